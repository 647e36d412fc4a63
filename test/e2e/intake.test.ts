// Webhook intake under load, as deployed: bursts of signed deliveries over many connections, every
// one of them delivered again, and a `kill -9` while the inbox is being worked through. Every
// delivery is acknowledged quickly; every run a delivery asks for is recorded exactly once, across
// redeliveries and the crash. The server has no model key here, so runs wait in the queue and
// what is counted is intake alone.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent, releaseEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/burst";
/** Routines each release fires, and each pull request. */
const RELEASE_ROUTINES = ["notes", "changelog"];
const CONNECTIONS = 16;
const METRICS_TOKEN = "e2e-intake-metrics-token";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(REPO, 7, {
    "README.md": "burst\n",
    ".claude/routines.yml": routinesYml({
      notes: { prompt: "Write release notes.", triggers: [{ github: { event: "release" } }] },
      changelog: { prompt: "Update the changelog.", triggers: [{ github: { event: "release" } }] },
      review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
    }),
  });
  server = await world.startServer({
    extra: {
      // No model key: runs are recorded and wait in the queue, so nothing but intake is measured.
      ANTHROPIC_API_KEY: "",
      LOG_LEVEL: "info",
      ROUTINES_DAILY_RUNS_PER_INSTALLATION: "100000",
      ROUTINES_HOURLY_RUNS_PER_ROUTINE: "100000",
      ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "100000",
      ROUTINES_METRICS_TOKEN: METRICS_TOKEN,
    },
  });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

interface Delivery {
  event: string;
  id: string;
  payload: unknown;
  /** The routines it fires. */
  routines: string[];
}

let releases = 0;
let pulls = 0;
async function deliveries(releaseCount: number, pullCount: number): Promise<Delivery[]> {
  const list: Delivery[] = [];
  for (let i = 0; i < pullCount; i++) {
    const branch = `feature/${++pulls}`;
    await world.github.commit(REPO, branch, { [`change-${pulls}.txt`]: `${pulls}\n` });
    const pull = await world.github.openPullRequest(REPO, { head: branch, title: `Change ${pulls}`, user: "alice" });
    list.push({ event: "pull_request", id: `pr-${pull.number}-opened`, payload: await pullRequestEvent(world.github, REPO, pull.number, "opened"), routines: ["review"] });
  }
  for (let i = 0; i < releaseCount; i++) {
    const tag = `v1.${++releases}`;
    list.push({ event: "release", id: `release-${tag}`, payload: await releaseEvent(world.github, REPO, { tag }), routines: RELEASE_ROUTINES });
  }
  return list;
}

/** POSTs every delivery over `CONNECTIONS` connections at once; resolves to each answer's status and time. */
async function burst(list: Delivery[]): Promise<Array<{ id: string; status: number; ms: number }>> {
  const answers: Array<{ id: string; status: number; ms: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < list.length) {
        const delivery = list[next++]!;
        const started = performance.now();
        const answer = await server.deliver(delivery.event, delivery.payload, { id: delivery.id });
        await answer.arrayBuffer();
        answers.push({ id: delivery.id, status: answer.status, ms: performance.now() - started });
      }
    }),
  );
  return answers;
}

const p99 = (times: number[]) => [...times].sort((a, b) => a - b)[Math.ceil(times.length * 0.99) - 1]!;

/** The run requests recorded in the server's store, as `delivery id:routine`. */
function recordedRuns(): string[] {
  const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT routine, json_extract(request, '$.trigger.deliveryId') AS delivery FROM runs").all() as Array<{ routine: string; delivery: string }>;
    return rows.map((row) => `${row.delivery}:${row.routine}`);
  } finally {
    db.close();
  }
}

function inboxStates(): Record<string, number> {
  const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT state, count(*) AS count FROM inbox GROUP BY state").all() as Array<{ state: string; count: number }>;
    return Object.fromEntries(rows.map((row) => [row.state, row.count]));
  } finally {
    db.close();
  }
}

const expectedRuns = (list: Delivery[]) => list.flatMap((delivery) => delivery.routines.map((routine) => `${delivery.id}:${routine}`));

/** Waits until every expected run is recorded, then checks that none is recorded twice and nothing else is. */
async function expectRecordedOnce(expected: string[]): Promise<void> {
  await eventually(
    () => {
      const recorded = new Set(recordedRuns());
      return expected.every((run) => recorded.has(run));
    },
    { timeoutMs: 90_000, intervalMs: 250, what: `${expected.length} run requests to be recorded` },
  );
  const recorded = recordedRuns();
  expect(recorded.length).toBe(new Set(recorded).size);
  expect(recorded.sort()).toEqual([...expected].sort());
}

/** Check runs per pull request head: at most one for its one run, never a duplicate. */
async function expectNoDuplicateChecks(list: Delivery[]): Promise<void> {
  for (const delivery of list.filter((d) => d.event === "pull_request")) {
    const head = (delivery.payload as { pull_request: { head: { sha: string } } }).pull_request.head.sha;
    expect(world.github.checkRuns.filter((check) => check.head_sha === head).length).toBeLessThanOrEqual(1);
  }
}

describe("webhook intake under load", () => {
  it("acknowledges a burst and its redeliveries within a second each, and records every run request once", async () => {
    const list = await deliveries(100, 4);
    const first = await burst(list);
    const again = await burst(list);
    const answers = [...first, ...again];
    expect(answers.filter((answer) => answer.status !== 202)).toEqual([]);
    const slowest = p99(answers.map((answer) => answer.ms));
    console.info(`${answers.length} deliveries over ${CONNECTIONS} connections: p99 acknowledgement ${slowest.toFixed(1)} ms`);
    expect(slowest).toBeLessThan(1_000);

    await expectRecordedOnce(expectedRuns(list));
    await eventually(() => inboxStates().pending === undefined, { what: "the inbox to be worked through" });
    expect(inboxStates()).toEqual({ done: list.length });
    await expectNoDuplicateChecks(list);
    // The inbox gauge: nothing waits, nothing gave up, and the done ones are not a state it shows.
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metrics.split("\n").filter((line) => line.startsWith("routines_inbox_deliveries{"))).toEqual(['routines_inbox_deliveries{state="pending"} 0', 'routines_inbox_deliveries{state="failed"} 0']);
  });

  it("refuses malformed deliveries with 400 naming the problem, and stores nothing of them", async () => {
    const [delivery] = await deliveries(0, 1);
    const { pull_request: _, ...withoutPullRequest } = delivery!.payload as Record<string, unknown>;
    const answer = await server.deliver("pull_request", withoutPullRequest, { id: "malformed-1" });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: 'this pull_request delivery needs "pull_request" (an object) in its payload' });
    const notObject = await server.deliver("push", [1, 2, 3], { id: "malformed-2" });
    expect(notObject.status).toBe(400);
    expect(await notObject.json()).toEqual({ error: "the body is not a JSON object" });
    const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true });
    try {
      // Neither received nor in the inbox.
      expect(db.prepare("SELECT (SELECT count(*) FROM received WHERE delivery_id LIKE 'malformed-%') + (SELECT count(*) FROM inbox WHERE delivery_id LIKE 'malformed-%') AS count").get()).toEqual({ count: 0 });
    } finally {
      db.close();
    }
  });

  it("loses nothing it acknowledged, and duplicates nothing, when killed while working through the inbox", async () => {
    const before = recordedRuns();
    // Pull requests first: each writes a check run, which GitHub's write limit spaces out, so the
    // inbox is still being worked through when the server is killed.
    const list = await deliveries(60, 4);
    const answers = await burst(list);
    expect(answers.filter((answer) => answer.status !== 202)).toEqual([]);
    await server.crash();
    console.info(`killed with ${inboxStates().pending ?? 0} of ${list.length} acknowledged deliveries not yet handled`);
    // Something was still waiting when the server died: this is the case under test.
    expect(inboxStates().pending ?? 0).toBeGreaterThan(0);

    await server.restart();
    // GitHub's redeliveries of the same deliveries after the restart change nothing.
    const redelivered = await burst(list);
    expect(redelivered.filter((answer) => answer.status !== 202)).toEqual([]);

    await expectRecordedOnce([...before, ...expectedRuns(list)]);
    await eventually(() => inboxStates().pending === undefined, { what: "the inbox to be worked through after the restart" });
    expect(inboxStates().failed).toBeUndefined();
    await expectNoDuplicateChecks(list);
  });
});
