// Check runs under load: many runs go through queued, in progress and completed while GitHub
// answers check-run writes slowly and now and then with a 502 (sometimes after applying the
// write), and across a kill -9 and a restart. Afterwards every run has exactly one check run, in
// its run's final state, whose states never went backwards.
import { afterEach, describe, expect, it } from "vitest";
import type { CheckRun } from "./support/fake-github.js";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/checks";

let world: World | undefined;
let server: ServerProcess | undefined;
keepDiagnostics(() => ({ world, servers: [server] }));

afterEach(async () => {
  await world?.close();
  world = undefined;
  server = undefined;
});

async function setUp(workers: number) {
  world = await startWorld();
  world.github.addInstallation(12, "acme");
  await world.github.addRepository(REPO, 12, {
    "README.md": "checks\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
  });
  server = await world.startServer({ extra: { ROUTINES_WORKERS: String(workers) } });
  return { github: world.github, model: world.model, server };
}

let branches = 0;
/** Opens pull requests whose sessions run a short command, then report `result`; returns their heads. */
async function openPullRequests(count: number, sleepSeconds: number, result: (i: number) => "succeeded" | "failed"): Promise<Map<string, "succeeded" | "failed">> {
  const heads = new Map<string, "succeeded" | "failed">();
  for (let i = 0; i < count; i++) {
    const marker = `[checks-${++branches}]`;
    const branch = `change-${branches}`;
    world!.model.session(marker, (turn) => (turn === 0 ? call("shell", { command: `sleep ${sleepSeconds}`, timeout_seconds: 60 }) : outcome("Done.", result(i))));
    await world!.github.commit(REPO, branch, { "README.md": `checks ${branches}\n` });
    const pull = await world!.github.openPullRequest(REPO, { head: branch, title: `${marker} change`, user: "alice" });
    heads.set(await world!.github.sha(REPO, `refs/heads/${branch}`), result(i));
    await server!.deliver("pull_request", await pullRequestEvent(world!.github, REPO, pull.number, "opened"));
  }
  return heads;
}

const RANK: Record<string, number> = { queued: 0, in_progress: 1, completed: 2 };

/**
 * Where a check's states went backwards: a state of lower rank after a higher one, except a
 * run queued again for its next attempt after a stop; nothing at all after completed.
 */
function backwardSteps(check: CheckRun): string[] {
  const steps: string[] = [];
  check.history.forEach((state, i) => {
    const before = check.history[i - 1];
    if (!before) return;
    const requeued = state.status === "queued" && state.title === "Queued again";
    if (before.status === "completed" || (RANK[state.status]! < RANK[before.status]! && !requeued)) steps.push(`${before.status} → ${state.status}`);
  });
  return steps;
}

/** Every run's check, once all are completed: exactly one per run, in its run's final state, never backwards. */
async function expectChecksMatchRuns(heads: Map<string, "succeeded" | "failed">, timeoutMs: number): Promise<CheckRun[]> {
  const github = world!.github;
  const checksOf = (head: string) => github.checkRuns.filter((check) => check.head_sha === head);
  await eventually(() => [...heads.keys()].every((head) => checksOf(head).some((check) => check.status === "completed")), { timeoutMs, what: "every run's check to complete" });
  const checks = [...heads.keys()].flatMap(checksOf);
  expect(checks.map((check) => check.head_sha).sort()).toEqual([...heads.keys()].sort());
  for (const check of checks) {
    expect({ head: check.head_sha, status: check.status, conclusion: check.conclusion }).toEqual({
      head: check.head_sha,
      status: "completed",
      conclusion: heads.get(check.head_sha) === "succeeded" ? "success" : "failure",
    });
    expect({ head: check.head_sha, backwards: backwardSteps(check) }).toEqual({ head: check.head_sha, backwards: [] });
  }
  return checks;
}

describe("check runs under load", () => {
  it("end in their run's state, one per run and never backwards, while GitHub answers check-run writes slowly and with 502s", async () => {
    const { github, server } = await setUp(3);
    // Every third write fails; half the time GitHub applied it anyway.
    Object.assign(github.checkRunFaults, { delayMs: 400, failEvery: 3, applyFailed: true });
    const heads = await openPullRequests(8, 1, (i) => (i % 3 === 2 ? "failed" : "succeeded"));
    const checks = await expectChecksMatchRuns(heads, 100_000);
    // The outbox saw the 502s and tried again.
    expect(github.requests.filter((request) => /check-runs/.test(request.path) && request.status === 502).length).toBeGreaterThan(0);
    expect(server.output()).toMatch(/a check run could not be written; trying again/);
    // No check was created already completed while its "queued" creation was still under way:
    // a creation applied before a 502 was found and updated, not made a second time.
    expect(checks).toHaveLength(heads.size);
  });

  it("end in their run's state across a kill -9 and a restart, with what the outbox held published after the restart", async () => {
    const { github, server } = await setUp(2);
    Object.assign(github.checkRunFaults, { delayMs: 300, failEvery: 5, applyFailed: false });
    const heads = await openPullRequests(6, 3, () => "succeeded");
    // Kill the server while runs are under way and their states wait to be written.
    await eventually(() => github.checkRuns.some((check) => check.status === "in_progress"), { timeoutMs: 60_000, what: "a run to start" });
    const cutShort = github.checkRuns.filter((check) => check.status === "in_progress").map((check) => check.head_sha);
    await server.crash();
    await server.restart();
    await expectChecksMatchRuns(heads, 110_000);
    // The runs the crash cut short ran again (a "Queued again" state may be replaced by the newer one before it is sent).
    expect(cutShort.length).toBeGreaterThan(0);
    expect(server.output()).toMatch(/runs interrupted by the last stop had published nothing: queued again/);
  });
});
