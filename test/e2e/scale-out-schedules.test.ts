// Schedules in the multi-process setup of scale-out.test.ts: two `routines server` processes
// (ROUTINES_WORKERS=0), each running every schedule's timer, and two `routines worker` processes
// that run the sessions. Two routines due every minute and a one-off time fire during the test;
// the worker running one of the scheduled sessions is killed with `kill -9` and started again.
// Every slot makes exactly one run, completed (the killed one on its second attempt, in the same
// run), as the runs table both servers share and the sessions the fake model saw tell.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText } from "../support/fake-model.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { everySlotCompleted, runsPerSlot, slotOf } from "./support/schedule-slots.js";
import { CLI, eventually, processesWith, sleep, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/ticks";
const MINUTE = 60_000;
const LEASE_MS = 3_000;
/** Reading the routines.yml, however the client encodes the slash. */
const CONFIG_READ = /^\/repos\/acme\/ticks\/contents\/\.claude(\/|%2F)routines\.yml$/;
const MARKERS = { tick: "E2E-FLEET-TICK", tock: "E2E-FLEET-TOCK", once: "E2E-FLEET-ONCE" };

let postgres: TestPostgres | undefined;
let world: World;
let webs: ServerProcess[] = [];
let workers: ServerProcess[] = [];
let client: pg.Client;
let onceAt: Date;

const rows = async <Row extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await client.query<Row>(text, values)).rows;

interface ScheduledRun {
  id: string;
  routine: string;
  status: string;
  attempt: number;
  leaseOwner: string | null;
  slot: string;
}

async function scheduledRuns(): Promise<ScheduledRun[]> {
  const found = await rows<{ id: string; routine: string; status: string; attempt: number; lease_owner: string | null; request: string }>(
    "SELECT id, routine, status, attempt, lease_owner, request FROM runs ORDER BY created_at, seq",
  );
  return found.map((row) => {
    const { trigger } = JSON.parse(row.request) as { trigger: { kind: string; scheduledFor?: string } };
    return { id: row.id, routine: row.routine, status: row.status, attempt: row.attempt, leaseOwner: row.lease_owner, slot: trigger.scheduledFor ?? trigger.kind };
  });
}

/** The slot a session works on, from the trigger line of its first message. */
const slotOfSession = (text: string) => text.match(/Trigger: (?:a one-off schedule|a schedule), for (\S+)\./)?.[1];

/** The slots the model was asked to work on, from each session's requests. */
const sessionSlots = (marker: string) =>
  world.model
    .sessionRequests(marker)
    .filter((request) => (request.body.messages as Array<{ role: string }>).every((message) => message.role !== "assistant"))
    .map((request) => slotOfSession(firstUserText(request.body)))
    .filter((slot): slot is string => slot !== undefined);

describe.skipIf(!hasPostgres)("schedules on two server processes and two workers sharing PostgreSQL, with a worker killed", () => {
  const sleepSeconds = 6000 + Math.floor(Math.random() * 900);

  beforeAll(async () => {
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase();
    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    world = await startWorld();
    world.github.addInstallation(12, "acme");
    // Far enough ahead that both servers have usually registered it by then; a server that starts
    // later catches it up at its start (within the grace period), which must not double it either.
    onceAt = new Date(Math.ceil((Date.now() + 40_000) / 1000) * 1000);
    await world.github.addRepository(REPO, 12, {
      "README.md": "# ticks\n",
      ".claude/routines.yml": routinesYml({
        tick: { prompt: `${MARKERS.tick}: look at the repository.`, triggers: [{ schedule: { cron: "* * * * *" } }] },
        tock: { prompt: `${MARKERS.tock}: look at it too.`, triggers: [{ schedule: { cron: "* * * * *" } }] },
        migrate: { prompt: `${MARKERS.once}: run the migration.`, triggers: [{ schedule: { at: onceAt.toISOString().replace(".000Z", "Z") } }] },
      }),
    });
    // The first attempt of each tick slot runs long, so that its worker can be killed mid-session;
    // a slot's later attempt (and every other session) reports at once.
    const ticked = new Set<string>();
    world.model.session(MARKERS.tick, (turn, _attempt, request) => {
      const slot = slotOfSession(firstUserText(request.body));
      if (turn > 0 || slot === undefined || ticked.has(slot)) return outcome("Done.");
      ticked.add(slot);
      return call("shell", { command: `sleep ${sleepSeconds}`, timeout_seconds: 600 });
    });
    world.model.session(MARKERS.tock, [outcome("Done.")]);
    world.model.session(MARKERS.once, [outcome("Done.")]);
    const shared = {
      DATABASE_URL: databaseUrl,
      ROUTINES_RUN_LEASE: `${LEASE_MS / 1000}s`,
      ROUTINES_MIN_SCHEDULE_INTERVAL: "1m",
      ROUTINES_SESSION_SECRET: randomBytes(32).toString("hex"),
    };
    webs = await Promise.all([0, 1].map(() => world.startServer({ args: [CLI, "server"], extra: { ...shared, ROUTINES_WORKERS: "0" } })));
    workers = await Promise.all([0, 1].map(() => world.startServer({ args: [CLI, "worker"], extra: { ...shared, ROUTINES_WORKERS: "2" } })));
  });

  keepDiagnostics(() => ({ world, servers: [...webs, ...workers] }));

  afterAll(async () => {
    await client?.end();
    await world?.close();
    await postgres?.stop();
  });

  it("makes one run per slot whichever server fires it, and the killed worker's scheduled run is retried in the same run", async () => {
    // Each server process reads the schedules at its start.
    await eventually(() => world.github.find("GET", CONFIG_READ).length >= 2, { what: "both servers to read the schedules" });
    // The first slot both have registered: both fire it.
    const together = Math.ceil((Date.now() + 1_000) / MINUTE) * MINUTE;

    // The worker that runs the tick of that slot dies mid-session and is started again.
    await eventually(
      async () => (await scheduledRuns()).some((run) => run.routine === "tick" && run.slot === slotOf(together) && run.status === "running") && (await processesWith(`sleep ${sleepSeconds}`)) > 0,
      { timeoutMs: 90_000, what: "the tick of the shared slot to run on a worker" },
    );
    const killed = (await scheduledRuns()).find((run) => run.routine === "tick" && run.slot === slotOf(together))!;
    const holder = workers.findIndex((worker) => killed.leaseOwner?.split(":")[1] === String(worker.pid));
    expect(holder).toBeGreaterThanOrEqual(0);
    await workers[holder]!.crash();
    await workers[holder]!.restart();

    const expected = [`tick@${slotOf(together)}`, `tock@${slotOf(together)}`, `migrate@${slotOf(Math.floor(onceAt.getTime() / MINUTE) * MINUTE)}`];
    await eventually(
      async () => everySlotCompleted(await scheduledRuns(), expected),
      { timeoutMs: 60_000, what: "the runs of every slot to complete" },
    );
    // Time for a second run of any slot to be recorded, had one been admitted.
    await sleep(3_000);

    const runs = await scheduledRuns();
    const counts = runsPerSlot(runs);
    // Every slot fired (any before `together`, when one server had registered, too) made one run.
    expect([...counts].filter(([, count]) => count !== 1)).toEqual([]);
    for (const slot of expected) expect(counts.get(slot), slot).toBe(1);
    expect(runs.every((run) => run.slot !== "api" && run.slot !== "github")).toBe(true);
    // The killed session's run was taken over and run again: the same run, its second attempt.
    expect(runs.find((run) => run.id === killed.id)).toMatchObject({ status: "completed", attempt: 2 });
    expect(await processesWith(`sleep ${sleepSeconds}`)).toBe(0);
    // And the model was asked about each slot at most once per attempt of its one run (a run that
    // the dead worker also held, and had not yet finished, was run again too): the killed tick twice.
    const markerOf = { tick: MARKERS.tick, tock: MARKERS.tock, migrate: MARKERS.once } as Record<string, string>;
    for (const run of runs) {
      const sessions = sessionSlots(markerOf[run.routine]!).filter((slot) => slot === run.slot).length;
      expect(sessions, `${run.routine}@${run.slot}`).toBeGreaterThanOrEqual(1);
      expect(sessions, `${run.routine}@${run.slot}`).toBeLessThanOrEqual(run.attempt);
    }
    expect(sessionSlots(MARKERS.tick).filter((slot) => slot === slotOf(together))).toHaveLength(2);
  });
});
