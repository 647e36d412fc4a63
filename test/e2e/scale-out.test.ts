// Four processes on one PostgreSQL database, with faults: two `routines server` processes
// (ROUTINES_WORKERS=0) behind no balancer but the test, which spreads 200 webhook deliveries over
// both and delivers a fifth of them again to the other one, as GitHub's redelivery would; two
// `routines worker` processes, one of which is killed with `kill -9` in the middle of a session and
// started again. Every delivery becomes exactly one run, none is lost, the killed worker's session
// is taken over within its lease and run again (it had published nothing), the transcript of a
// run on a worker is readable from either server process, and Cancel on either server process
// stops a session on whichever worker runs it.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { issuesEvent } from "./support/payloads.js";
import { CLI, eventually, processesWith, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/fleet";
const DELIVERIES = 200;
const LEASE_MS = 3_000;

let postgres: TestPostgres | undefined;
let world: World;
let webs: ServerProcess[] = [];
let workers: ServerProcess[] = [];
let client: pg.Client;

const rows = async <Row extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await client.query<Row>(text, values)).rows;
const runOfIssue = async (number: number) =>
  (await rows<{ id: string; status: string; reason: string | null; lease_owner: string | null }>("SELECT id, status, reason, lease_owner FROM runs WHERE request::jsonb -> 'context' -> 'issue' ->> 'number' = $1", [String(number)]))[0];

async function signIn(web: ServerProcess): Promise<Browser> {
  const browser = new Browser(web.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  expect((await browser.fetch(`${callback.pathname}${callback.search}`)).status).toBe(303);
  return browser;
}

const issue = (number: number, marker: string) => issuesEvent(world.github, REPO, { number, title: `Issue ${number} ${marker}`, body: "Something is off." });

describe.skipIf(!hasPostgres)("two server processes and two workers on one database, with faults", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase();
    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    world = await startWorld();
    world.github.addInstallation(9, "acme");
    await world.github.addRepository(REPO, 9, {
      "README.md": "fleet\n",
      ".claude/routines.yml": routinesYml({ triage: { prompt: "Triage this issue.", triggers: [{ github: { event: "issues", actions: ["opened"] } }] } }),
    });
    world.github.permissions.set(`${REPO}:writer`, "write");
    world.github.signedInUser = "writer";
    const shared = {
      DATABASE_URL: databaseUrl,
      ROUTINES_RUN_LEASE: `${LEASE_MS / 1000}s`,
      ROUTINES_SESSION_SECRET: randomBytes(32).toString("hex"),
      ROUTINES_DAILY_RUNS_PER_INSTALLATION: "10000",
      ROUTINES_HOURLY_RUNS_PER_ROUTINE: "10000",
      ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "10000",
      // Every request of 800 sessions would fill the test's memory with log lines.
      LOG_LEVEL: "info",
    };
    const web = { ...shared, ROUTINES_WORKERS: "0", GITHUB_CLIENT_ID: "Iv1.e2e", GITHUB_CLIENT_SECRET: "e2e-client-secret" };
    webs = [await world.startServer({ args: [CLI, "server"], extra: web }), await world.startServer({ args: [CLI, "server"], extra: web })];
    workers = [await world.startServer({ args: [CLI, "worker"], extra: { ...shared, ROUTINES_WORKERS: "4" } }), await world.startServer({ args: [CLI, "worker"], extra: { ...shared, ROUTINES_WORKERS: "4" } })];
  });

  keepDiagnostics(() => ({ world, servers: [...webs, ...workers] }));

  afterAll(async () => {
    await client?.end();
    await world?.close();
    await postgres?.stop();
  });

  it("runs every delivery exactly once, takes a killed worker's session over within its lease, and streams and cancels from either server", { timeout: 600_000 }, async () => {
    const { model } = world;
    const sleeps = { slow: 7000 + Math.floor(Math.random() * 300), a: 7400 + Math.floor(Math.random() * 300), b: 7700 + Math.floor(Math.random() * 299) };
    // The session the crash interrupts: long on its first attempt, done on its second.
    model.session("[fault-slow]", (turn, attempt) => (attempt === 1 && turn === 0 ? call("shell", { command: `sleep ${sleeps.slow}`, timeout_seconds: 600 }) : outcome("Triaged after the crash.")));
    model.session("[fault-cancel-a]", (turn) => (turn === 0 ? call("shell", { command: `sleep ${sleeps.a}`, timeout_seconds: 600 }) : outcome("Not reached.")));
    model.session("[fault-cancel-b]", (turn) => (turn === 0 ? call("shell", { command: `sleep ${sleeps.b}`, timeout_seconds: 600 }) : outcome("Not reached.")));
    // The bulk: each answer takes a moment, as a model's does.
    model.session("[fault-bulk]", () => ({ ...outcome("Triaged."), delayMs: 300 }));

    await webs[0]!.deliver("issues", issue(1001, "[fault-slow]"), { id: "slow" });
    await webs[1]!.deliver("issues", issue(1002, "[fault-cancel-a]"), { id: "cancel-a" });
    await webs[0]!.deliver("issues", issue(1003, "[fault-cancel-b]"), { id: "cancel-b" });
    for (const seconds of Object.values(sleeps)) await eventually(async () => (await processesWith(`sleep ${seconds}`)) > 0, { what: `the session sleeping ${seconds} s to run` });
    const slow = (await runOfIssue(1001))!;
    const holder = workers.findIndex((worker) => slow.lease_owner?.split(":")[1] === String(worker.pid));
    expect(holder).toBeGreaterThanOrEqual(0);

    // Either server process streams the transcript of a session that a worker runs, and cancels one.
    for (const [index, [number, seconds]] of ([[1002, sleeps.a], [1003, sleeps.b]] as const).entries()) {
      const browser = await signIn(webs[index]!);
      const run = (await runOfIssue(number))!;
      const stream = await browser.fetch(`/dashboard/runs/${run.id}/events`);
      const reader = stream.body!.getReader();
      let text = "";
      while (!text.includes(`sleep ${seconds}`)) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect((await browser.post(`/dashboard/runs/${run.id}/cancel`, { _csrf: await browser.csrf() })).status).toBe(303);
      await eventually(async () => (await runOfIssue(number))?.status === "cancelled", { what: `the run of issue ${number} to be cancelled` });
      await eventually(async () => (await processesWith(`sleep ${seconds}`)) === 0, { what: `the session sleeping ${seconds} s to be stopped` });
      expect((await runOfIssue(number))!.reason).toBe("cancelled by writer in the dashboard");
    }

    // 200 deliveries over both server processes, a fifth of them delivered again to the other one.
    const deliveries: Array<Promise<Response>> = [];
    let killedAt = 0;
    let expiresAt = 0;
    let takenOver: Promise<number> | undefined;
    for (let number = 1; number <= DELIVERIES; number++) {
      const first = webs[number % 2]!;
      const payload = issue(number, "[fault-bulk]");
      deliveries.push(first.deliver("issues", payload, { id: `bulk-${number}` }));
      if (number % 5 === 0) deliveries.push(webs[(number + 1) % 2]!.deliver("issues", payload, { id: `bulk-${number}` }));
      // The worker holding the slow session dies while the deliveries come in.
      if (number === DELIVERIES / 2) {
        await Promise.all(deliveries.splice(0));
        await workers[holder]!.crash();
        killedAt = Date.now();
        // The lease the dead worker last renewed: nobody may take the run over before it runs out.
        expiresAt = (await rows<{ at: Date }>("SELECT lease_expires_at AS at FROM runs WHERE id = $1", [slow.id]))[0]!.at.getTime();
        // When another process takes the run's lease (before it revokes the dead one's tokens and queues the run again).
        takenOver = eventually(
          async () => {
            const [row] = await rows<{ owner: string | null; status: string }>("SELECT lease_owner AS owner, status FROM runs WHERE id = $1", [slow.id]);
            return (row!.owner !== slow.lease_owner || row!.status !== "running") && Date.now();
          },
          { intervalMs: 50, what: "another process to take the dead worker's run over" },
        );
      }
    }
    for (const answer of await Promise.all(deliveries)) expect(answer.status).toBeLessThan(300);
    expect(await processesWith(`sleep ${sleeps.slow}`)).toBe(0);
    await workers[holder]!.restart();

    const done = async () => (await rows<{ count: number }>("SELECT count(*)::int AS count FROM runs WHERE status NOT IN ('queued', 'running')"))[0]!.count;
    await eventually(async () => (await done()) === DELIVERIES + 3, { what: "every run to end", timeoutMs: 400_000, intervalMs: 500 });

    // Exactly one run per issue, each completed (the two cancelled aside), none lost or doubled.
    const perIssue = await rows<{ number: string; runs: number; statuses: string[] }>(
      "SELECT request::jsonb -> 'context' -> 'issue' ->> 'number' AS number, count(*)::int AS runs, array_agg(status) AS statuses FROM runs GROUP BY 1 ORDER BY 1::int",
    );
    expect(perIssue).toHaveLength(DELIVERIES + 3);
    expect(perIssue.filter((row) => row.runs !== 1)).toEqual([]);
    const byStatus = await rows<{ status: string; count: number }>("SELECT status, count(*)::int AS count FROM runs GROUP BY status ORDER BY status");
    expect(byStatus).toEqual([
      { status: "cancelled", count: 2 },
      { status: "completed", count: DELIVERIES + 1 },
    ]);
    // Each delivery was recorded once, whichever process got it first.
    expect((await rows<{ count: number }>("SELECT count(*)::int AS count FROM inbox"))[0]!.count).toBe(DELIVERIES + 3);

    // The killed worker's session: its lease ran out at most one lease after the kill, and the run
    // was taken over at the reaper's next look (every third of a lease) and run again.
    const [requeued] = await rows<{ at: Date; data: string }>("SELECT e.at, e.data FROM events e JOIN runs r ON r.id = e.run_id WHERE r.id = $1 AND e.kind = 'requeued'", [slow.id]);
    expect(JSON.parse(requeued!.data)).toMatchObject({ attempt: 2 });
    const takenOverAt = await takenOver!;
    console.info(`the killed worker's lease ran out ${expiresAt - killedAt} ms after the kill; the run was taken over ${takenOverAt - expiresAt} ms later, and queued again ${requeued!.at.getTime() - expiresAt} ms later`);
    expect(expiresAt - killedAt).toBeLessThanOrEqual(LEASE_MS);
    // Two seconds of slack for a machine whose two cores the test's nine processes share.
    expect(takenOverAt - expiresAt).toBeLessThan(LEASE_MS / 3 + 2_000);
    expect((await rows("SELECT status, attempt FROM runs WHERE id = $1", [slow.id]))[0]).toEqual({ status: "completed", attempt: 2 });
  });
});
