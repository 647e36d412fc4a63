// The model routes through the built server, configured only by its `.env`: Amazon Bedrock (AWS
// keys, SigV4) and Google Vertex AI (an access token), each against a fake of that platform's wire
// format. A run fired through the HTTP API reaches the platform's path, signed or authorised, with
// the platform's body, and completes with the outcome the model reported.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeModel, type FakeModel, type ScriptedTurn } from "../support/fake-model.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/ops";
const AWS = { accessKeyId: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`, secretAccessKey: randomBytes(20).toString("base64"), sessionToken: randomBytes(24).toString("base64"), region: "eu-central-1" };
const GOOGLE = { accessToken: `ya29.${randomBytes(24).toString("hex")}`, project: "acme-models", region: "us-east5" };

let world: World;
let bedrock: FakeModel;
let vertex: FakeModel;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  world = await startWorld();
  bedrock = await startFakeModel([], { wire: { kind: "bedrock", ...AWS } });
  vertex = await startFakeModel([], { wire: { kind: "vertex", ...GOOGLE } });
  world.github.addInstallation(41, "acme");
  await world.github.addRepository(REPO, 41, {
    "README.md": "ops\n",
    ".claude/routines.yml": routinesYml({
      triage: { prompt: "Triage the alert.", model: "claude-haiku-4-5", triggers: [{ api: {} }] },
      "by-default": { prompt: "Triage the alert.", triggers: [{ api: {} }] },
      unplaced: { prompt: "Triage the alert.", model: "gpt-5", triggers: [{ api: {} }] },
    }),
  });
});

keepDiagnostics(() => ({ world, servers }));

afterAll(async () => {
  await world?.close();
  await bedrock?.close();
  await vertex?.close();
});

/** The `routines` command in the server's directory, reading its `.env`. */
async function routines(server: ServerProcess, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  return stdout;
}

/** Fires the routine through the HTTP API with a token the routines command made; the run's id. */
async function fire(server: ServerProcess, routine: string, text: string): Promise<string> {
  const created = await routines(server, "token", "create", "--repo", REPO, "--routine", routine);
  const path = new URL(/URL\s+(\S+)/.exec(created)![1]!).pathname;
  const token = /token\s+(\S+)/.exec(created)![1]!;
  const fired = await fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text }) });
  expect(fired.status).toBeLessThan(300);
  return ((await fired.json()) as { run_id: string }).run_id;
}

const finished = (server: ServerProcess, runId: string) =>
  eventually(
    async () => {
      const shown = await routines(server, "runs", "show", runId);
      return /status {4}(completed|errored|failed)/.test(shown) && shown;
    },
    { what: `run ${runId} to finish` },
  );

/** Each route's server: the Claude API's key is not set at all; the route's own settings are. */
async function startServer(extra: Record<string, string>): Promise<ServerProcess> {
  const server = await world.startServer({ extra: { ANTHROPIC_API_KEY: "", ANTHROPIC_BASE_URL: "", ...extra } });
  servers.push(server);
  return server;
}

const marker = (name: string) => `[${name}-${randomBytes(4).toString("hex")}]`;
const triaged = (summary: string): ScriptedTurn[] => [outcome(summary)];

describe("model routes, configured by .env", () => {
  it("sends Amazon Bedrock's runs to InvokeModelWithResponseStream, SigV4-signed with the AWS keys, the model named as Bedrock names it", async () => {
    const server = await startServer({
      ROUTINES_MODEL_PROVIDER: "bedrock",
      ROUTINES_MODEL: "claude-sonnet-4-6",
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
      AWS_SESSION_TOKEN: AWS.sessionToken,
      AWS_REGION: AWS.region,
      ANTHROPIC_BEDROCK_BASE_URL: bedrock.url,
    });
    await server.waitForOutput(/model calls go to Amazon Bedrock/);

    const named = marker("bedrock-named");
    const byDefault = marker("bedrock-default");
    // Bedrock throttles the first call: the loop retries it, as on the Claude API.
    const throttled: ScriptedTurn = { error: { status: 429, type: "ThrottlingException", message: "Too many requests, please wait before trying again." } };
    bedrock.session(named, (_turn, attempt) => (attempt === 1 ? throttled : outcome("Triaged on Bedrock.")));
    bedrock.session(byDefault, triaged("Triaged with the default model."));
    const namedRun = await fire(server, "triage", `Disk full on db-1 ${named}`);
    const defaultRun = await fire(server, "by-default", `Disk full on db-2 ${byDefault}`);
    const shown = await finished(server, namedRun);
    expect(shown).toContain("status    completed");
    expect(shown).toContain("outcome   succeeded");
    expect(shown).toContain("Triaged on Bedrock.");
    expect(await finished(server, defaultRun)).toContain("Triaged with the default model.");

    const [request, retried] = bedrock.sessionRequests(named);
    expect(request!.refused).toBeUndefined();
    expect(retried?.url).toBe(request!.url);
    expect(decodeURIComponent(request!.url!)).toBe("/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream");
    expect(decodeURIComponent(bedrock.sessionRequests(byDefault)[0]!.url!)).toBe("/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream");
    expect(request!.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS.accessKeyId}/\\d{8}/${AWS.region}/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`));
    expect(request!.headers["x-amz-security-token"]).toBe(AWS.sessionToken);
    expect(request!.body).toMatchObject({ anthropic_version: "bedrock-2023-05-31", max_tokens: expect.any(Number), system: expect.anything(), tools: expect.any(Array) });
    expect(request!.body).not.toHaveProperty("model");
    expect(JSON.stringify(request!.body.messages[0])).toContain(named);
    // Nothing went to the Claude API.
    expect(world.model.requests).toEqual([]);
  });

  it("sends Google Vertex AI's runs to streamRawPredict with the access token, and errors a run whose model the route cannot place", async () => {
    const server = await startServer({
      ROUTINES_MODEL_PROVIDER: "vertex",
      ROUTINES_MODEL: "claude-opus-4-7",
      GOOGLE_OAUTH_ACCESS_TOKEN: GOOGLE.accessToken,
      CLOUD_ML_REGION: GOOGLE.region,
      ANTHROPIC_VERTEX_PROJECT_ID: GOOGLE.project,
      ANTHROPIC_VERTEX_BASE_URL: `${vertex.url}/v1`,
    });
    await server.waitForOutput(/model calls go to Google Vertex AI/);

    const named = marker("vertex-named");
    vertex.session(named, triaged("Triaged on Vertex AI."));
    const runId = await fire(server, "triage", `Latency up on api-3 ${named}`);
    const shown = await finished(server, runId);
    expect(shown).toContain("status    completed");
    expect(shown).toContain("Triaged on Vertex AI.");
    const [request] = vertex.sessionRequests(named);
    expect(request!.refused).toBeUndefined();
    expect(decodeURIComponent(request!.url!)).toBe(`/v1/projects/${GOOGLE.project}/locations/${GOOGLE.region}/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict`);
    expect(request!.headers.authorization).toBe(`Bearer ${GOOGLE.accessToken}`);
    expect(request!.body).toMatchObject({ anthropic_version: "vertex-2023-10-16", stream: true });
    expect(request!.body).not.toHaveProperty("model");

    // A model the route cannot place: the run errors, saying which names it knows, and nothing is sent.
    const before = vertex.requests.length;
    const unplaced = await finished(server, await fire(server, "unplaced", `Anything ${marker("vertex-unplaced")}`));
    expect(unplaced).toMatch(/status {4}errored \(the model API failed: the model "gpt-5" is not known on Google Vertex AI; known: claude-opus-4-7, .*\(the routine's model, or ROUTINES_MODEL\)\)/);
    expect(vertex.requests.length).toBe(before);
  });

  it("errors a run whose signature Bedrock refuses, at once, naming the AWS credentials", async () => {
    const refusing = await startFakeModel([], { wire: { kind: "bedrock", ...AWS, secretAccessKey: "another-secret-key" } });
    try {
      const server = await startServer({
        ROUTINES_MODEL_PROVIDER: "bedrock",
        AWS_ACCESS_KEY_ID: AWS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
        AWS_REGION: AWS.region,
        ANTHROPIC_BEDROCK_BASE_URL: refusing.url,
        AWS_SESSION_TOKEN: AWS.sessionToken,
      });
      const shown = await finished(server, await fire(server, "triage", `Anything ${marker("bedrock-refused")}`));
      expect(shown).toMatch(/status {4}errored \(the model API failed: Amazon Bedrock denied access \(403 the signature does not match the expected secret key\): check that the AWS credentials \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      // Refused for good: not retried.
      expect(refusing.requests).toHaveLength(1);
    } finally {
      await refusing.close();
    }
  });

  it("refuses to start with a default model its route cannot place, naming ROUTINES_MODEL", async () => {
    const server = world.startServer({ extra: { ROUTINES_MODEL_PROVIDER: "bedrock", ROUTINES_MODEL: "sonnet" } });
    await expect(server).rejects.toThrow(/ROUTINES_MODEL: the model "sonnet" is not known on Amazon Bedrock/);
  });
});
