// Schedules with two built servers on one PostgreSQL database: each runs every schedule's timer,
// and each slot still makes one run. The servers fire one slot together, then both sleep through
// the next (SIGSTOP) and catch it up together when they wake; a one-off due between is registered
// by both. What is counted is the runs table both share, and the sessions the fake model saw.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText } from "../support/fake-model.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { everySlotCompleted, runsPerSlot, slotOf } from "./support/schedule-slots.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/ticks";
const MINUTE = 60_000;
/** Reading the routines.yml, however the client encodes the slash. */
const CONFIG_READ = /^\/repos\/acme\/ticks\/contents\/\.claude(\/|%2F)routines\.yml$/;
const MARKERS = { tick: "E2E-TICK", tock: "E2E-TOCK", once: "E2E-SHARED-ONCE" };

let postgres: TestPostgres | undefined;
let databaseUrl: string;
let world: World;
let servers: ServerProcess[] = [];
let onceAt: Date;

interface RunRow {
  routine: string;
  status: string;
  created_at: Date;
  request: string;
}

async function recordedRuns(): Promise<Array<{ routine: string; status: string; createdAt: Date; slot: string }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<RunRow>("SELECT routine, status, created_at, request FROM runs ORDER BY created_at");
    return rows.map((row) => {
      const { trigger } = JSON.parse(row.request) as { trigger: { kind: string; scheduledFor?: string } };
      return { routine: row.routine, status: row.status, createdAt: row.created_at, slot: trigger.scheduledFor ?? trigger.kind };
    });
  } finally {
    await client.end();
  }
}

/** The slots the model was asked to work on, from the trigger line of each session's first request. */
const sessionSlots = (marker: string) =>
  world.model
    .sessionRequests(marker)
    .map((request) => firstUserText(request.body).match(/Trigger: (?:a one-off schedule|a schedule), for (\S+)\./)?.[1])
    .filter((slot): slot is string => slot !== undefined);

const signal = (server: ServerProcess, name: NodeJS.Signals) => process.kill(server.pid!, name);

describe.skipIf(!hasPostgres)("schedules on two servers sharing PostgreSQL", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase();
    world = await startWorld();
    world.github.addInstallation(12, "acme");
    // Far enough ahead that both servers have started and registered it by then (or, if one is
    // slow, that it catches it up at its start, well within the grace period).
    onceAt = new Date(Math.ceil((Date.now() + 40_000) / 1000) * 1000);
    await world.github.addRepository(REPO, 12, {
      "README.md": "# ticks\n",
      ".claude/routines.yml": routinesYml({
        tick: { prompt: `${MARKERS.tick}: look at the repository.`, triggers: [{ schedule: { cron: "* * * * *" } }] },
        tock: { prompt: `${MARKERS.tock}: look at it too.`, triggers: [{ schedule: { cron: "* * * * *" } }] },
        migrate: { prompt: `${MARKERS.once}: run the migration.`, triggers: [{ schedule: { at: onceAt.toISOString().replace(".000Z", "Z") } }] },
      }),
    });
    for (const marker of Object.values(MARKERS)) world.model.session(marker, [outcome("Done.")]);
    const extra = { DATABASE_URL: databaseUrl, ROUTINES_MIN_SCHEDULE_INTERVAL: "1m" };
    servers = await Promise.all([world.startServer({ extra }), world.startServer({ extra })]);
  });

  keepDiagnostics(() => ({ world, servers }));

  afterAll(async () => {
    for (const server of servers) if (server.pid) signal(server, "SIGCONT");
    await world?.close();
    await postgres?.stop();
  });

  it("makes one run per slot: fired together, caught up together after both slept through one, and a one-off once", { timeout: 240_000 }, async () => {
    // Each server reads the schedules at its start.
    await eventually(() => world.github.find("GET", CONFIG_READ).length >= 2, { what: "both servers to read the schedules" });
    const registered = Date.now();
    // The first slot both have registered: they fire it together.
    const together = Math.ceil((registered + 1_000) / MINUTE) * MINUTE;
    const missed = together + MINUTE;

    // Both are stopped across the next slot, as a suspended machine or a long pause would, and
    // woken together: both timers are late, and both catch the slot up.
    await sleep(missed - 5_000 - Date.now());
    for (const server of servers) signal(server, "SIGSTOP");
    await sleep(missed + 5_000 - Date.now());
    const woken = Date.now();
    for (const server of servers) signal(server, "SIGCONT");

    const expected = [
      ...["tick", "tock"].flatMap((routine) => [`${routine}@${slotOf(together)}`, `${routine}@${slotOf(missed)}`]),
      `migrate@${slotOf(Math.floor(onceAt.getTime() / MINUTE) * MINUTE)}`,
    ];
    await eventually(
      async () => everySlotCompleted(await recordedRuns(), expected),
      { timeoutMs: 60_000, what: "the runs of every slot to complete" },
    );
    // Time for a second run of any slot to be recorded, had one been admitted.
    await sleep(3_000);

    const runs = await recordedRuns();
    const counts = runsPerSlot(runs);
    // Every slot fired (those before `together`, when only one server had registered, too) made one run.
    expect([...counts].filter(([, count]) => count !== 1)).toEqual([]);
    for (const slot of expected) expect(counts.get(slot), slot).toBe(1);
    // The slot slept through was caught up after the wake, not at its time.
    for (const run of runs.filter((run) => run.slot === slotOf(missed))) expect(run.createdAt.getTime()).toBeGreaterThanOrEqual(woken);
    // And the model was asked about each slot once.
    for (const marker of [MARKERS.tick, MARKERS.tock]) {
      const slots = sessionSlots(marker);
      expect(slots.filter((slot) => slot === slotOf(together))).toHaveLength(1);
      expect(slots.filter((slot) => slot === slotOf(missed))).toHaveLength(1);
    }
    expect(sessionSlots(MARKERS.once)).toHaveLength(1);
  });
});
