// Attacks on the server's secrets, through the built server: two installations name the same
// secret; a session prints secrets in every encoding it can and posts them (comment, review, pull
// request, commit message, outcome); a setup script echoes them and fails; requests carry a bearer
// token, a session cookie and an OAuth code. Nothing of the server's secrets may reach GitHub, the
// model, the stored transcript or the log, and no installation gets a value granted to another.
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateKey } from "../support/github.js";
import { MODEL_KEY } from "../support/fake-model.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { git } from "../e2e/support/git.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, isStatusComment, keepDiagnostics, outcome, routinesYml, WEBHOOK_SECRET, startWorld, type World } from "../e2e/support/world.js";

const ACME = "acme/app";
const GLOBEX = "globex/app";
const GLOBEX_OTHER = "globex/other";

// Random, so that no file on the machine holds them by accident; with characters that URL-encoding changes.
const random = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}/+=&?${randomBytes(4).toString("hex")}`;
const acmeVault = random("acme-vault-");
const globexVault = random("globex-vault-");
const clientSecret = random("oauth-client-");
const sessionSecret = randomBytes(32).toString("hex");
const bearer = `rt_${randomBytes(20).toString("hex")}`;
const cookie = randomBytes(24).toString("hex");
const oauthCode = randomBytes(10).toString("hex");
const oauthState = randomBytes(16).toString("hex");

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const base64 = (text: string) => Buffer.from(text).toString("base64");
const reversed = (text: string) => [...text].reverse().join("");
const hex = (text: string) => Buffer.from(text).toString("hex");

/** Every form of a secret that must never come out. */
function forms(secret: string): string[] {
  return [secret, base64(secret), base64(`x${secret}`).slice(2), base64(`xy${secret}`).slice(3), reversed(secret), hex(secret), encodeURIComponent(secret)];
}

const pemLines = privateKey.split("\n").filter((line) => line.length >= 16 && !line.startsWith("-----"));
/** The server's secrets as the agent types them (it may have read them through some other hole). */
const serverSecrets = [MODEL_KEY, WEBHOOK_SECRET, clientSecret, sessionSecret, acmeVault, globexVault];
const typed = [...serverSecrets.flatMap(forms), privateKey, ...pemLines].join("\n");
const forbidden = [...serverSecrets.flatMap(forms), ...pemLines, bearer, cookie, oauthCode, oauthState];

/** What of `forbidden` appears in `text`. */
const leaks = (text: string) => forbidden.filter((secret) => text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1)));

/** Prints $VAULT_KEY raw, as base64 at three alignments, reversed, as hex and URL-encoded, and its hash. */
const PRINT_VAULT = [
  `urlenc() { local s="$1" i c; for ((i=0;i<\${#s};i++)); do c=\${s:i:1}; case "$c" in [a-zA-Z0-9.~_-]) printf '%s' "$c";; *) printf '%%%02X' "'$c";; esac; done; echo; }`,
  `printf '%s\\n' "$VAULT_KEY"`,
  `printf '%s' "$VAULT_KEY" | base64 -w0; echo`,
  `printf 'x%s' "$VAULT_KEY" | base64 -w0; echo`,
  `printf 'xy%s' "$VAULT_KEY" | base64 -w0; echo`,
  `printf '%s' "$VAULT_KEY" | rev; echo`,
  `printf '%s' "$VAULT_KEY" | od -An -tx1 | tr -d ' \\n'; echo`,
  `urlenc "$VAULT_KEY"`,
  `printf 'hash:%s\\n' "$(printf '%s' "$VAULT_KEY" | sha256sum | cut -c1-64)"`,
].join("\n");

let world: World;
let server: ServerProcess;
/** The server's environment and its processes', as /proc showed them while it ran. */
const environs: string[] = [];

async function processEnvirons(groupId: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Field 5 of stat is the process group.
    if (Number(fields[2]) !== groupId) continue;
    found.push(await readFile(`/proc/${pid}/environ`, "utf8").catch(() => ""));
  }
  return found;
}

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(11, "acme");
  world.github.addInstallation(12, "globex");
  const readme = { "README.md": "# app\n" };
  await world.github.addRepository(ACME, 11, {
    ...readme,
    ".claude/routines.yml": routinesYml(
      {
        leak: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
        setup: { prompt: "Never reached.", environment: "broken", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
      },
      {
        environments: {
          default: { secrets: ["VAULT_KEY"] },
          broken: { secrets: ["VAULT_KEY"], setup: `${PRINT_VAULT}\necho "${MODEL_KEY} $(printf %s "$VAULT_KEY" | base64 -w0)" >&2\nsleep 2\nexit 3` },
        },
      },
    ),
  });
  for (const [name, files] of [
    [GLOBEX, readme],
    [GLOBEX_OTHER, readme],
  ] as const) {
    await world.github.addRepository(name, 12, {
      ...files,
      ".claude/routines.yml": routinesYml(
        { leak: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } },
        { environments: { default: { secrets: ["VAULT_KEY"] } } },
      ),
    });
  }
  server = await world.startServer({
    extra: {
      ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: ACME,
      ROUTINES_SECRET_VAULT_KEY__GLOBEX: globexVault,
      ROUTINES_SECRET_VAULT_KEY__GLOBEX_REPOSITORIES: GLOBEX_OTHER,
      GITHUB_CLIENT_ID: "Iv1.secrets-attack",
      ROUTINES_SESSION_SECRET: sessionSecret,
    },
    // Some secrets come from the process environment rather than .env.
    env: { ROUTINES_SECRET_VAULT_KEY: acmeVault, GITHUB_CLIENT_SECRET: clientSecret },
  });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** A pull request whose title carries the case's marker. */
async function pullRequest(repository: string, marker: string) {
  const branch = `feature/${marker.replace(/\W/g, "")}`;
  await world.github.commit(repository, branch, { "NOTES.md": `${marker}\n` });
  return world.github.openPullRequest(repository, { head: branch, title: `Change ${marker}`, user: "alice" });
}

/** The text of every tool result the model was sent. */
const toolResults = () =>
  world.model.requests
    .flatMap((request) => request.body.messages ?? [])
    .flatMap((message: { role: string; content: unknown }) => (message.role === "user" && Array.isArray(message.content) ? message.content : []))
    .filter((block: { type?: string }) => block.type === "tool_result")
    .map((block: unknown) => JSON.stringify(block))
    .join("\n");

const completedCheck = (repository: string, routine: string, number: number) =>
  eventually(
    async () => {
      const pull = world.github.pullRequests.get(`${repository}#${number}`)!;
      const head = await world.github.sha(repository, `refs/heads/${pull.head}`);
      return world.github.checkRuns.find((check) => check.repository === repository && check.head_sha === head && check.name === `routines/${routine}` && check.status === "completed");
    },
    { what: `the completed check of ${routine} on ${repository}#${number}` },
  );

describe("secrets, attacked through the built server", () => {
  it("gives no installation another's secret, and lets none of the server's secrets out, in any encoding, anywhere", async () => {
    const { github, model } = world;
    const leakScript = (marker: string) =>
      model.session(marker, (turn, _attempt, request) => {
        const seen = JSON.stringify(request.body.messages.at(-1));
        switch (turn) {
          case 0:
            return call("shell", { command: PRINT_VAULT });
          case 1:
            return call("comment", { body: `What the shell printed: ${seen}\n\nAnd what I know:\n${typed}` });
          case 2:
            return call("create_review", { body: `Review.\n${typed}`, comments: [] });
          case 3:
            return call("shell", { command: `echo "${MODEL_KEY}" > leaked.txt && echo wrote` });
          case 4:
            return call("open_pull_request", { title: `Leak ${MODEL_KEY} ${base64(WEBHOOK_SECRET)}`, body: typed, commit_message: `Leak\n\n${typed}` });
          default:
            return outcome(`Summary.\n${typed}`);
        }
      });
    const markers = { acme: `[acme-${randomBytes(4).toString("hex")}]`, globex: `[globex-${randomBytes(4).toString("hex")}]`, other: `[other-${randomBytes(4).toString("hex")}]` };
    leakScript(markers.acme);
    leakScript(markers.other);
    leakScript(markers.globex);

    const acme = await pullRequest(ACME, markers.acme);
    const globex = await pullRequest(GLOBEX, markers.globex);
    const other = await pullRequest(GLOBEX_OTHER, markers.other);
    for (const [repository, pull] of [
      [ACME, acme],
      [GLOBEX, globex],
      [GLOBEX_OTHER, other],
    ] as const) {
      expect((await server.deliver("pull_request", await pullRequestEvent(github, repository, pull.number, "opened"))).status).toBeLessThan(300);
    }
    // While runs go: the server's environment and every process it started, as /proc shows them.
    const watching = setInterval(() => void processEnvirons(server.pid!).then((found) => environs.push(...found)), 200);
    try {
      await completedCheck(ACME, "leak", acme.number);
      await completedCheck(ACME, "setup", acme.number);
      await completedCheck(GLOBEX_OTHER, "leak", other.number);
      await completedCheck(GLOBEX, "leak", globex.number);
    } finally {
      clearInterval(watching);
    }
    environs.push(...(await processEnvirons(server.pid!)));

    // What came out, where: every finding is listed, so that a failure shows all of them at once.
    const findings: Record<string, unknown> = {};
    const note = (where: string, found: string[]) => {
      if (found.length > 0) findings[where] = found;
    };

    // Each installation gets only what was granted to it: globex/app nothing (its run does not start), globex/other its own value.
    const globexCheck = await completedCheck(GLOBEX, "leak", globex.number);
    const hashes = (text: string) => ({ acme: text.includes(sha256(acmeVault)), globex: text.includes(sha256(globexVault)) });
    const commentOn = (repository: string, number: number) => github.comments.find((comment) => comment.repository === repository && comment.issue === number && !isStatusComment(comment))?.body ?? "";
    findings.secretsGiven = { [ACME]: hashes(commentOn(ACME, acme.number)), [GLOBEX]: hashes(commentOn(GLOBEX, globex.number)), [GLOBEX_OTHER]: hashes(commentOn(GLOBEX_OTHER, other.number)) };
    findings.globexCheck = { conclusion: globexCheck.conclusion, title: globexCheck.output?.title };
    const setupCheck = await completedCheck(ACME, "setup", acme.number);
    findings.setupCheck = { conclusion: setupCheck.conclusion, title: setupCheck.output?.title };

    // Nothing reached GitHub: comments, reviews, pull requests, check runs, any request body, pushed commits.
    note("github requests", leaks(JSON.stringify(github.requests.map((request) => request.body))));
    note("github records", leaks(JSON.stringify([github.comments, github.reviews, [...github.pullRequests.values()], github.checkRuns])));
    note("commit messages", leaks(await git(github.repository(ACME).bare, "log", "--all", "--format=%B")));

    // Nothing reached the model: tool results pass the redactor before they join the conversation.
    note("tool results the model saw", leaks(toolResults()));

    // Nothing is stored: runs (reasons, summaries) and transcripts, as the dashboard and the API show them.
    const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true });
    try {
      note("stored runs and transcripts", leaks(JSON.stringify([db.prepare("SELECT * FROM runs").all(), db.prepare("SELECT * FROM events").all()])));
    } finally {
      db.close();
    }

    // The API's bearer tokens, the dashboard's cookies and OAuth's code and state never reach the log.
    await fetch(`${server.url}/api/v1/routines/trg_unknown/fire?token=${bearer}`, { method: "POST", headers: { authorization: `Bearer ${bearer}` } });
    await fetch(`${server.url}/dashboard`, { headers: { cookie: `routines_session=${cookie}; other=${cookie}` } });
    await fetch(`${server.url}/dashboard/auth/callback?code=${oauthCode}&state=${oauthState}`, { headers: { cookie: `routines_oauth_state=${oauthState}` }, redirect: "manual" });
    await server.waitForOutput(/auth\/callback/);
    note("log", leaks(server.output()));

    // The server keeps none of its secrets in its environment, nor passes them to the processes it starts.
    note("process environments", leaks(environs.join("\n")));

    expect(environs.length).toBeGreaterThan(0);
    expect(findings).toEqual({
      secretsGiven: {
        [ACME]: { acme: true, globex: false },
        [GLOBEX]: { acme: false, globex: false },
        [GLOBEX_OTHER]: { acme: false, globex: true },
      },
      globexCheck: { conclusion: "action_required", title: expect.stringContaining("VAULT_KEY is not granted to globex/app") },
      setupCheck: { conclusion: "failure", title: expect.stringContaining("the setup script failed with exit code 3") },
    });
    // The reason tells the operator what to set.
    expect(globexCheck.output?.summary).toContain("ROUTINES_SECRET_VAULT_KEY_REPOSITORIES");
    // The redactor did its work where the secrets were: the session printed them, and posted what it saw.
    expect(commentOn(ACME, acme.number)).toContain("[REDACTED]");
  });
});
