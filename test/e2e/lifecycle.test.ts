// A server's life: stopped with SIGTERM mid-session, killed with SIGKILL and started again, and a
// session that outlives its first GitHub token. Each case has its own server.
import { execFile } from "node:child_process";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/ops";

let world: World | undefined;
let server: ServerProcess | undefined;
keepDiagnostics(() => ({ world, servers: [server] }));

afterEach(async () => {
  await world?.close();
  world = undefined;
  server = undefined;
});

/** A world with one repository whose `review` routine runs on new pull requests, and its server. */
async function setUp(options: Parameters<typeof startWorld>[0] = {}, extra: Record<string, string> = {}, env: Record<string, string> = {}) {
  world = await startWorld(options);
  world.github.addInstallation(11, "acme");
  await world.github.addRepository(REPO, 11, {
    "README.md": "ops\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
  });
  server = await world.startServer({ extra: { ROUTINES_WORKERS: "1", ...extra }, env });
  return { github: world.github, model: world.model, server };
}

let branches = 0;
async function openPullRequest(marker: string) {
  const branch = `change-${++branches}`;
  await world!.github.commit(REPO, branch, { "README.md": `ops ${branches}\n` });
  const pull = await world!.github.openPullRequest(REPO, { head: branch, title: `${marker} change`, user: "alice" });
  await server!.deliver("pull_request", await pullRequestEvent(world!.github, REPO, pull.number, "opened"));
  return { pull, head: await world!.github.sha(REPO, `refs/heads/${branch}`) };
}

/** Processes whose command line contains `text` (the agent's commands, wherever they run). */
async function processes(text: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)("ps", ["-eo", "pid,args"]);
  return stdout.split("\n").filter((line) => line.includes(text) && !line.includes("ps -eo"));
}

const sessionsOf = (marker: string) => world!.model.sessionRequests(marker).filter((request) => request.body.messages.length === 1);

describe("stopping and crashing", () => {
  it("on SIGTERM stops the session's commands, revokes its token, exits, and runs the session again after the restart", async () => {
    const { github, model, server } = await setUp();
    // The first attempt runs a long command; the second reports at once.
    model.session("[sigterm]", (turn, attempt) => (attempt === 1 && turn === 0 ? call("shell", { command: "sleep 7345", timeout_seconds: 600 }) : outcome("Done.")));
    const { head } = await openPullRequest("[sigterm]");
    await eventually(async () => (await processes("sleep 7345")).length > 0, { what: "the session's command to run" });
    const runToken = github.find("POST", "/app/installations/11/access_tokens").find((request) => request.body?.repositories)!;
    expect(runToken).toBeDefined();

    expect(await server.stop(20_000)).toBe(0);
    expect(await processes("sleep 7345")).toEqual([]);
    const check = github.checkRuns.find((c) => c.head_sha === head)!;
    expect(check.history.map((state) => state.status)).toEqual(["queued", "in_progress", "queued"]);
    expect([...github.tokens.values()].filter((token) => token.repositories && !token.revoked)).toEqual([]);
    expect(server.output()).toMatch(/run interrupted before it published anything: queued again/);

    await server.restart();
    await eventually(() => check.status === "completed", { what: "the run's second attempt" });
    expect(check.conclusion).toBe("success");
    expect(sessionsOf("[sigterm]")).toHaveLength(2);
  });

  it("after SIGKILL, a restart revokes the dead run's token, runs it again if it published nothing, keeps queued runs, and closes the check of one that had published", async () => {
    // A temporary directory of this server's own: every server sweeps what dead servers left in its
    // runs root as it starts, so in the shared one another suite's server could sweep for this one.
    const tmp = await mkdtemp(join(tmpdir(), "routines-e2e-tmp-"));
    const { github, model, server } = await setUp({}, {}, { TMPDIR: tmp });
    model.session("[crash-quiet]", (turn, attempt) => (attempt === 1 && turn === 0 ? call("shell", { command: "sleep 7346", timeout_seconds: 600 }) : outcome("Done.")));
    model.session("[crash-waiting]", [outcome("Done.")]);
    const quiet = await openPullRequest("[crash-quiet]");
    await eventually(async () => (await processes("sleep 7346")).length > 0, { what: "the session's command to run" });
    // One worker: this one waits in the queue.
    const waiting = await openPullRequest("[crash-waiting]");
    await eventually(() => github.checkRuns.some((c) => c.head_sha === waiting.head), { what: "the waiting run's check" });
    const token = [...github.tokens.values()].find((t) => t.repositories && !t.revoked)!;

    const deadPid = server.pid!;
    await server.crash();
    await eventually(async () => (await processes("sleep 7346")).length === 0, { timeoutMs: 10_000, what: "the dead server's commands to die with it" });
    expect(github.tokens.get(token.token)!.revoked).toBe(false);
    // Its run's directory (the working tree with the repository's code, HOME, TMPDIR) is still on disk.
    const leftBehind = async () => (await readdir(join(tmp, "routines-runs"))).filter((name) => name.startsWith(`routines-run-${deadPid}-`));
    expect(await leftBehind()).toHaveLength(1);

    await server.restart();
    await eventually(() => github.tokens.get(token.token)!.revoked, { what: "the dead run's token to be revoked" });
    await eventually(async () => (await leftBehind()).length === 0, { what: "the dead run's directory to be swept" });
    const quietCheck = github.checkRuns.find((c) => c.head_sha === quiet.head)!;
    const waitingCheck = github.checkRuns.find((c) => c.head_sha === waiting.head)!;
    await eventually(() => quietCheck.status === "completed" && waitingCheck.status === "completed", { timeoutMs: 60_000, what: "both runs to finish" });
    expect([quietCheck.conclusion, waitingCheck.conclusion]).toEqual(["success", "success"]);
    expect(sessionsOf("[crash-quiet]")).toHaveLength(2);
    expect(sessionsOf("[crash-waiting]")).toHaveLength(1);

    // A run that had posted something is not run again after a crash: its check says why.
    model.session("[crash-posted]", (turn) =>
      turn === 0 ? call("comment", { body: "Looking into it." }) : turn === 1 ? call("shell", { command: "sleep 7347", timeout_seconds: 600 }) : outcome("Done."),
    );
    const posted = await openPullRequest("[crash-posted]");
    await eventually(async () => (await processes("sleep 7347")).length > 0, { what: "the session's command to run" });
    await server.crash();
    await server.restart();
    // Check runs are published from the outbox: the check may have been created before the crash or after the restart.
    const postedCheck = await eventually(() => github.checkRuns.find((c) => c.head_sha === posted.head && c.status === "completed"), { what: "the interrupted run's check to close" });
    expect(github.checkRuns.filter((c) => c.head_sha === posted.head)).toHaveLength(1);
    expect(postedCheck.conclusion).toBe("failure");
    expect(postedCheck.output?.title).toMatch(/^Interrupted: the server stopped unexpectedly while the run was going; it had already published to GitHub, so it was not run again/);
    expect(sessionsOf("[crash-posted]")).toHaveLength(1);
  });
});

describe("one server per data directory", () => {
  it("refuses a second server on the same DATA_DIR, naming the process that holds it, and lets one start once that process is gone", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "routines-e2e-data-"));
    const { server: first } = await setUp({}, { DATA_DIR: dataDir });
    const refused = await world!.startServer({ extra: { DATA_DIR: dataDir } }).then(
      () => "started",
      (error: unknown) => String(error),
    );
    expect(refused).toMatch(/exited with 1/);
    expect(refused).toContain(`DATA_DIR ${dataDir} is in use by another routines server (pid ${first.pid})`);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    // The lock goes with its process, however it ends.
    await first.crash();
    const next = await world!.startServer({ extra: { DATA_DIR: dataDir } });
    expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
  });
});

describe("a long session", () => {
  it("still publishes when it outlives its first token: the token is refreshed for the API and for git", async () => {
    // Run tokens (those limited to repositories) live 6 s here instead of an hour.
    const { github, model } = await setUp({ tokenLifetimeMs: ({ repositories }) => (repositories ? 6_000 : 3_600_000) });
    model.session("[long]", [
      call("shell", { command: "sleep 9" }),
      call("create_file", { path: "NOTES.md", content: "checked\n" }),
      call("open_pull_request", { title: "Notes", body: "After a long look." }),
      call("create_review", { body: "Looked for a long time.", comments: [] }),
      outcome("Done."),
    ]);
    const { pull, head } = await openPullRequest("[long]");
    const check = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { timeoutMs: 60_000, what: "the long run" });
    expect(check.conclusion).toBe("success");
    const minted = github.find("POST", "/app/installations/11/access_tokens").filter((request) => request.body?.repositories);
    expect(minted.length).toBeGreaterThanOrEqual(2);
    expect(github.reviews.filter((review) => review.pull === pull.number)).toHaveLength(1);
    const push = github.pushes.find((p) => p.updates.some((update) => update.ref.startsWith("refs/heads/claude/")))!;
    expect(push.status).toBe(200);
    // The push and the review came after the first token had expired: they used a refreshed one.
    const first = [...github.tokens.values()].find((token) => token.repositories)!;
    expect(push.token).not.toBe(first.token);
    const review = github.find("POST", `/repos/${REPO}/pulls/${pull.number}/reviews`)[0]!;
    expect(review.status).toBe(200);
    expect(github.find("POST", `/repos/${REPO}/pulls`).map((request) => request.status)).toEqual([201]);
  });
});
