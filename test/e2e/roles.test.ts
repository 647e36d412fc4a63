// Two processes on one PostgreSQL database, started as an operator starts them: `routines server`
// with ROUTINES_WORKERS=0 (webhooks, API, dashboard) and `routines worker` (sessions only). A
// webhook to the server has the worker run the session; the server streams the worker's
// transcript live; Cancel on the server stops the session on the worker; a push through the
// server has the worker read the routines file again. A worker refuses SQLite.
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { pullRequestEvent, pushEvent } from "./support/payloads.js";
import { CLI, eventually, ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/shop";

let postgres: TestPostgres | undefined;
let world: World;
let web: ServerProcess;
let worker: ServerProcess;
let databaseUrl: string;

const reviewYml = (marker: string) =>
  routinesYml({ review: { prompt: `Review this pull request. ${marker}`, triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } });

/** The command lines of every process on the machine that contain `text`. */
async function processesWith(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const command = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
    if (command.includes(text)) found.push(command);
  }
  return found;
}

async function query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Signs in to the web process through the fake GitHub's authorize page, as a browser following the redirects would. */
async function signIn(): Promise<Browser> {
  const browser = new Browser(web.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  expect((await browser.fetch(`${callback.pathname}${callback.search}`)).status).toBe(303);
  return browser;
}

/** A server-sent event stream, read as it comes. */
function follow(response: Response): { text(): string; closed: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const closed = (async () => {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => text, closed };
}

describe.skipIf(!hasPostgres)("a server process and a worker process on one database", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase();
    world = await startWorld();
    world.github.addInstallation(7, "acme");
    await world.github.addRepository(REPO, 7, { "src/app.js": "export const value = 1;\n", ".claude/routines.yml": reviewYml("[roles-v1]") });
    world.github.permissions.set(`${REPO}:writer`, "write");
    world.github.signedInUser = "writer";
    const shared = { DATABASE_URL: databaseUrl, ROUTINES_RUN_LEASE: "3s", ROUTINES_SESSION_SECRET: randomBytes(32).toString("hex") };
    web = await world.startServer({ args: [CLI, "server"], extra: { ...shared, ROUTINES_WORKERS: "0", GITHUB_CLIENT_ID: "Iv1.e2e", GITHUB_CLIENT_SECRET: "e2e-client-secret" } });
    worker = await world.startServer({ args: [CLI, "worker"], extra: shared });
  });

  keepDiagnostics(() => ({ world, servers: [web, worker] }));

  afterAll(async () => {
    await world?.close();
    await postgres?.stop();
  });

  it("the worker serves only /healthz and /metrics, and the server runs no sessions", async () => {
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${worker.url}/metrics`)).text()).toContain("routines_runs");
    expect((await worker.deliver("ping", { zen: "hello" })).status).toBe(404);
    expect((await fetch(`${worker.url}/dashboard`)).status).toBe(404);
    expect(web.output()).toContain("ROUTINES_WORKERS=0: this process runs no sessions");
    expect(worker.output()).toContain("worker started");
  });

  it("a webhook to the server has the worker run the session, which the server streams live; Cancel on the server stops it on the worker", async () => {
    const { github, model } = world;
    const marker = `live-${randomBytes(6).toString("hex")}`;
    const sleepSeconds = 7000 + Math.floor(Math.random() * 999);
    await github.commit(REPO, "feature/live", { "src/app.js": "export const value = 2;\n" });
    const pull = await github.openPullRequest(REPO, { head: "feature/live", title: "Change", user: "alice" });
    // The first answer waits, so that the stream is open before the transcript holds the marker.
    model.session("[roles-v1]", (turn) =>
      turn === 0
        ? { ...call("shell", { command: `echo ${marker}` }), delayMs: 4_000 }
        : turn === 1
          ? call("shell", { command: `sleep ${sleepSeconds}`, timeout_seconds: 600 })
          : outcome("Not reached."),
    );
    expect((await web.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"))).status).toBeLessThan(300);
    const head = await github.sha(REPO, "refs/heads/feature/live");
    const running = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "in_progress"), { what: "the run to start" });
    const runId = running.external_id!;

    const browser = await signIn();
    const stream = follow(await browser.fetch(`/dashboard/runs/${runId}/events`));
    await eventually(() => stream.text().includes("event:"), { what: "the stream's first event" });
    expect((await query("SELECT 1 FROM events WHERE run_id = $1 AND data LIKE $2", [runId, `%${marker}%`])).length).toBe(0);
    // The worker's echo reaches the server's stream while the session goes on.
    await eventually(() => stream.text().includes(marker), { what: "the worker's transcript on the server's stream" });
    await eventually(async () => (await processesWith(`sleep ${sleepSeconds}`)).length > 0, { what: "the session's command to run on the worker" });
    expect((await query<{ status: string }>("SELECT status FROM runs WHERE id = $1", [runId]))[0]?.status).toBe("running");

    const csrf = await browser.csrf();
    expect((await browser.post(`/dashboard/runs/${runId}/cancel`, { _csrf: csrf })).status).toBe(303);
    const [cancelled] = await eventually(async () => {
      const rows = await query<{ status: string; reason: string }>("SELECT status, reason FROM runs WHERE id = $1", [runId]);
      return rows[0]?.status === "cancelled" && rows;
    }, { what: "the run to be cancelled" });
    expect(cancelled).toEqual({ status: "cancelled", reason: "cancelled by writer in the dashboard" });
    await eventually(async () => (await processesWith(`sleep ${sleepSeconds}`)).length === 0, { what: "the session's command to be stopped" });
    await eventually(() => stream.text().includes("event: end"), { what: "the stream to end" });
    await stream.closed;
    expect(stream.text()).toContain("Cancel requested: cancelled by writer in the dashboard");
    await eventually(() => github.checkRuns.find((c) => c.id === running.id && c.status === "completed"), { what: "the check run to complete" });
    expect(github.checkRuns.find((c) => c.id === running.id)).toMatchObject({ conclusion: "cancelled" });

    // The session ran on the worker, not on the server.
    expect(worker.output()).toMatch(new RegExp(`"run":"${runId}"[^\\n]*"run started"`));
    expect(web.output()).not.toMatch(new RegExp(`"run":"${runId}"[^\\n]*"run started"`));
  });

  it("a push to the routines file through the server has the worker read it again: the next run uses the new routine", async () => {
    const { github, model } = world;
    const repo = "acme/pushed";
    await github.addRepository(repo, 7, { "src/app.js": "export const value = 1;\n", ".claude/routines.yml": reviewYml("[roles-push-old]") });
    /** Opens a pull request on a new branch and waits for its review's check run to complete. */
    const review = async (branch: string, from?: string) => {
      await github.commit(repo, branch, { "src/app.js": `export const value = "${branch}";\n` }, from ? { from } : {});
      const pull = await github.openPullRequest(repo, { head: branch, title: branch, user: "alice" });
      await web.deliver("pull_request", await pullRequestEvent(github, repo, pull.number, "opened"));
      const head = await github.sha(repo, `refs/heads/${branch}`);
      return eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.name === "routines/review" && c.status === "completed"), { what: `the review of ${branch}` });
    };
    // The worker reads the routines file once and keeps it.
    model.session("[roles-push-old]", [outcome("Reviewed with the old routine.")]);
    expect((await review("feature/before-push")).conclusion).toBe("success");
    expect(model.sessionRequests("[roles-push-old]")).toHaveLength(1);

    model.session("[roles-push-new]", [outcome("Reviewed with the new routine.")]);
    const before = await github.sha(repo, "refs/heads/main");
    const after = await github.commit(repo, "main", { ".claude/routines.yml": reviewYml("[roles-push-new]") });
    // The example payload pushEvent starts from is a branch deletion.
    const push = { ...pushEvent(github, repo, { before, after, modified: [".claude/routines.yml"] }), created: false, deleted: false };
    expect((await web.deliver("push", push)).status).toBeLessThan(300);
    await eventually(() => github.checkRuns.some((c) => c.head_sha === after && c.name === "routines/config" && c.status === "completed"), { what: "the server to handle the push" });

    expect((await review("feature/after-push", after)).conclusion).toBe("success");
    expect(model.sessionRequests("[roles-push-new]")).toHaveLength(1);
    expect(model.sessionRequests("[roles-push-old]")).toHaveLength(1);
  });

  it("both stop cleanly on SIGTERM", async () => {
    expect(await worker.stop()).toBe(0);
    expect(worker.output()).toContain('"msg":"stopped"');
    expect(await web.stop()).toBe(0);
  });

  it("a worker on SQLite (no DATABASE_URL) refuses to start, saying why", async () => {
    const failed = await ServerProcess.start({ args: [CLI, "worker"], dotenv: world.dotenv() }).then(
      () => undefined,
      (error: unknown) => String(error),
    );
    expect(failed).toMatch(/exited with 1/);
    expect(failed).toContain("`routines worker` needs DATABASE_URL (PostgreSQL)");
  });
});
