// Attacks on the credentials of the Amazon Bedrock and Google Vertex AI routes, through the built
// server configured only by its `.env`: the AWS secret key and session token, a Google access
// token, and a service account key file (GOOGLE_APPLICATION_CREDENTIALS) kept where the sandbox
// reads the system back (/etc). A scripted agent's command reads its environment, every process's
// environment under /proc, and the key file; the agent then reports what it saw together with
// the credentials as it might type them (had it found them through another hole). None of it may
// reach the model, the stored runs and transcripts, the log or the environments of the server's
// processes.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModel, type FakeModel } from "../support/fake-model.js";
import { CLI, eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const REPO = "acme/models";
const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const AWS = { accessKeyId: `AKIA${hex(8).toUpperCase()}`, secretAccessKey: `aws-secret-${hex(16)}/+=`, sessionToken: `aws-session-${hex(24)}`, region: "us-west-2" };
const GOOGLE = { accessToken: `ya29.google-token-${hex(20)}`, project: "acme-models", region: "europe-west1" };
// A service account key as Google issues it; the private key's body is a marker here.
const keyBody = `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${hex(24)}`;
const serviceAccount = {
  type: "service_account",
  project_id: GOOGLE.project,
  private_key_id: hex(20),
  private_key: `-----BEGIN PRIVATE KEY-----\n${keyBody}\n-----END PRIVATE KEY-----\n`,
  client_email: "routines@acme-models.iam.gserviceaccount.com",
  client_id: "1234567890",
  token_uri: "https://oauth2.googleapis.com/token",
};
const keyDir = `/etc/routines-attack-${hex(6)}`;
const keyFile = join(keyDir, "service-account.json");

const base64 = (text: string) => Buffer.from(text).toString("base64");
const forms = (secret: string) => [secret, base64(secret), base64(`x${secret}`).slice(2), base64(`xy${secret}`).slice(3), [...secret].reverse().join(""), Buffer.from(secret).toString("hex"), encodeURIComponent(secret)];
const keyFileSecrets = { "the service account's private key": keyBody, "the service account's key id": serviceAccount.private_key_id };
/** What each server holds: its route's credentials, and the key file both are configured with. */
const held = {
  bedrock: { AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken, ...keyFileSecrets },
  vertex: { GOOGLE_OAUTH_ACCESS_TOKEN: GOOGLE.accessToken, ...keyFileSecrets },
};
const secrets = { ...held.bedrock, ...held.vertex };
/** Which of the secrets appear in `text`, in any of their forms. */
const leaks = (text: string, among: Record<string, string>) =>
  Object.entries(among)
    .filter(([, secret]) => forms(secret).some((form) => text.includes(form) || text.includes(JSON.stringify(form).slice(1, -1))))
    .map(([name]) => name);

/** Reads what a command can: its environment, every process's under /proc, the key file, the server user's AWS and gcloud files. */
const PROBE = [
  "env",
  "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < \"$f\" 2>/dev/null; done | grep -E '^(AWS|GOOGLE|CLOUD_ML)_' | sort -u",
  `cat ${keyFile}`,
  "cat ~/.aws/credentials /root/.aws/credentials /root/.config/gcloud/application_default_credentials.json 2>&1 | head -5",
  "echo probed",
].join("; ");
/** The credentials as the agent might type them into what it writes. */
const typed = Object.values(secrets).flatMap(forms).join("\n");

let world: World;
let bedrock: FakeModel;
let vertex: FakeModel;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  await mkdir(keyDir, { recursive: true });
  await writeFile(keyFile, JSON.stringify(serviceAccount, null, 2));
  world = await startWorld();
  bedrock = await startFakeModel([], { wire: { kind: "bedrock", ...AWS } });
  vertex = await startFakeModel([], { wire: { kind: "vertex", ...GOOGLE } });
  world.github.addInstallation(51, "acme");
  await world.github.addRepository(REPO, 51, {
    "README.md": "models\n",
    ".claude/routines.yml": routinesYml({ probe: { prompt: "Look around.", model: "claude-haiku-4-5", triggers: [{ api: {} }] } }),
  });
  const common = { ANTHROPIC_API_KEY: "", ANTHROPIC_BASE_URL: "", GOOGLE_APPLICATION_CREDENTIALS: keyFile };
  servers.push(
    await world.startServer({
      extra: { ...common, ROUTINES_MODEL_PROVIDER: "bedrock", AWS_REGION: AWS.region, ANTHROPIC_BEDROCK_BASE_URL: bedrock.url, AWS_ACCESS_KEY_ID: AWS.accessKeyId },
      // Some credentials come from the process environment rather than .env.
      env: { AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken },
    }),
    await world.startServer({
      extra: { ...common, ROUTINES_MODEL_PROVIDER: "vertex", GOOGLE_OAUTH_ACCESS_TOKEN: GOOGLE.accessToken, CLOUD_ML_REGION: GOOGLE.region, ANTHROPIC_VERTEX_PROJECT_ID: GOOGLE.project, ANTHROPIC_VERTEX_BASE_URL: `${vertex.url}/v1` },
    }),
  );
});

keepDiagnostics(() => ({ world, servers }));

afterAll(async () => {
  await world?.close();
  await bedrock?.close();
  await vertex?.close();
  await rm(keyDir, { recursive: true, force: true });
});

async function processEnvirons(groupId: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== groupId) continue;
    found.push(await readFile(`/proc/${pid}/environ`, "utf8").catch(() => ""));
  }
  return found;
}

async function routines(server: ServerProcess, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  return stdout;
}

async function fire(server: ServerProcess, text: string): Promise<string> {
  const created = await routines(server, "token", "create", "--repo", REPO, "--routine", "probe");
  const path = new URL(/URL\s+(\S+)/.exec(created)![1]!).pathname;
  const token = /token\s+(\S+)/.exec(created)![1]!;
  const fired = await fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text }) });
  expect(fired.status).toBeLessThan(300);
  return ((await fired.json()) as { run_id: string }).run_id;
}

describe("the model routes' credentials, attacked through the built server", () => {
  it.each([
    ["bedrock", 0],
    ["vertex", 1],
  ] as const)("lets none of the %s server's model credentials out to commands, the model, the store, the log or its processes' environments", async (route, index) => {
    const server = servers[index]!;
    const model = route === "bedrock" ? bedrock : vertex;
    const marker = `[probe-${route}-${hex(4)}]`;
    model.session(marker, (turn, _attempt, request) =>
      turn === 0 ? call("shell", { command: PROBE }) : outcome(`What the shell printed: ${JSON.stringify(request.body.messages.at(-1))}\nAnd what I know:\n${typed}`),
    );
    const environs: string[] = [];
    const watching = setInterval(() => void processEnvirons(server.pid!).then((found) => environs.push(...found)), 200);
    let shown: string;
    try {
      const runId = await fire(server, `Look around ${marker}`);
      shown = await eventually(async () => {
        const text = await routines(server, "runs", "show", runId);
        return /status {4}(completed|errored|failed)/.test(text) && text;
      }, { what: `the ${route} run to finish` });
    } finally {
      clearInterval(watching);
    }
    environs.push(...(await processEnvirons(server.pid!)));

    const toolResults = model
      .sessionRequests(marker)
      .flatMap((request) => request.body.messages ?? [])
      .filter((message: { role: string }) => message.role === "user")
      .map((message: unknown) => JSON.stringify(message))
      .join("\n");
    const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true });
    let stored: string;
    try {
      stored = JSON.stringify([db.prepare("SELECT * FROM runs").all(), db.prepare("SELECT * FROM events").all()]);
    } finally {
      db.close();
    }
    const findings: Record<string, string[]> = {};
    const note = (where: string, found: string[]) => {
      if (found.length > 0) findings[where] = found;
    };
    // Commands see none of the credentials, whichever server holds them; the rest is the server's own to redact.
    note("tool results the model saw", leaks(toolResults, secrets));
    note("the run as the routines command shows it", leaks(shown, held[route]));
    note("stored runs and transcripts", leaks(stored, held[route]));
    note("log", leaks(server.output(), held[route]));
    note("process environments", leaks(environs.join("\n"), held[route]));

    // The run went through the route, and the probe ran and its output reached the model: the command did look.
    expect(shown).toContain("status    completed");
    expect(toolResults).toContain("probed");
    expect(environs.length).toBeGreaterThan(0);
    expect(findings).toEqual({});
    // What the agent typed was redacted, not dropped.
    expect(shown).toContain("[REDACTED]");
  });
});
