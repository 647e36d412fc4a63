import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { validateRoutines } from "../../src/config/validate.js";
import { StoreAdmission, type Admission } from "../../src/runs/admission.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { RunRecord } from "../../src/runs/store.js";
import { Scheduler } from "../../src/triggers/scheduler.js";

const limits = { dailyRunsPerInstallation: 1000, hourlyRunsPerRoutine: 1000, hourlyRunsPerInstallation: 1000 };
const repository = { owner: "acme", repo: "app" };
const HOUR = 3_600_000;

const target = (yaml: string, now: Date) => {
  const config = validateRoutines(`version: 1\nroutines:\n${yaml}`, { now, minScheduleInterval: 60_000 });
  expect(config.problems.filter((problem) => problem.severity === "error")).toEqual([]);
  return { repository, installationId: 1, configSha: "sha", routines: config.routines };
};

const slotOf = ({ routine, trigger }: Pick<RunRecord, "routine" | "trigger">) => `${routine}@${trigger.kind === "schedule" ? trigger.scheduledFor : "?"}`;

function setup(store = new SqliteStore(":memory:"), oneOffGrace = HOUR) {
  const errors: unknown[] = [];
  const inner = new StoreAdmission(store, limits);
  // Every request the scheduler makes, before admission's dedupe could hide a second one.
  const requested: string[] = [];
  const admission: Admission = {
    admit: (request) => {
      requested.push(slotOf(request));
      return inner.admit(request);
    },
  };
  const scheduler = new Scheduler({ store, admission, oneOffGrace, onError: (error) => errors.push(error) });
  const runs = async () => (await store.listRuns({ limit: 100 })).reverse();
  const fired = async () => (await runs()).map(slotOf);
  return { store, scheduler, runs, fired, requested, errors };
}

/** What a long synchronous job (a big checkout, a huge JSON parse) does: no timer runs until it ends. */
function holdEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy, on purpose
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const everyMinute = "  poll:\n    prompt: P.\n    triggers:\n      - schedule: { cron: \"* * * * *\" }\n";

describe("Scheduler", () => {
  afterEach(() => vi.useRealTimers());

  it("fires presets and cron expressions in their time zones, across a DST change", async () => {
    vi.useFakeTimers({ now: new Date("2027-03-26T12:00:00Z") });
    const { scheduler, fired, errors } = setup();
    await scheduler.register(
      target(
        `  standup:
    prompt: Summarise.
    triggers:
      - schedule: { preset: daily, time: "09:00", timezone: Europe/Berlin }
  nightly:
    prompt: Update.
    triggers:
      - schedule: { cron: "0 3 * * 1-5", timezone: America/New_York }
`,
        new Date(),
      ),
    );
    // Berlin moves from UTC+1 to UTC+2 on 2027-03-28; New York is already on UTC-4.
    await vi.advanceTimersByTimeAsync(4 * 24 * HOUR);
    expect((await fired()).sort()).toEqual([
      "nightly@2027-03-29T07:00:00.000Z",
      "nightly@2027-03-30T07:00:00.000Z",
      "standup@2027-03-27T08:00:00.000Z",
      "standup@2027-03-28T07:00:00.000Z",
      "standup@2027-03-29T07:00:00.000Z",
      "standup@2027-03-30T07:00:00.000Z",
    ]);
    expect(errors).toEqual([]);
    scheduler.stop();
  });

  const once = (at: string) => `  migrate:
    prompt: Migrate.
    triggers:
      - schedule: { at: "${at}" }
`;

  it("fires a slot that a held event loop made late: late, and once", async () => {
    // Timers are real; only the wall clock is fake, so the test says what time it is when the loop is free again.
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-11-24T10:00:59.900Z") });
    const { scheduler, fired, requested, errors } = setup();
    await scheduler.register(target(everyMinute + once("2026-11-24T10:01:00Z"), new Date()));

    // Both timers come due 100 ms into a synchronous job that holds the loop; when it ends the
    // clock reads 10:01:02.5, past the second node-cron forgives (it would log "missed execution").
    holdEventLoop(300);
    vi.setSystemTime(new Date("2026-11-24T10:01:02.500Z"));
    await vi.waitFor(async () => expect(await fired()).toHaveLength(2), { timeout: 2_000 });
    await realSleep(200);
    expect(requested.sort()).toEqual(["migrate@2026-11-24T10:01:00.000Z", "poll@2026-11-24T10:01:00.000Z"]);
    expect(errors).toEqual([]);
    scheduler.stop();
  });

  it("fires once, for the latest slot, when the loop was held across several", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-11-24T10:00:59.900Z") });
    const { scheduler, fired, requested } = setup();
    await scheduler.register(target(everyMinute, new Date()));

    // Held across 10:01, 10:02, 10:03 and 10:04: one run, for 10:04, not a burst of four.
    holdEventLoop(300);
    vi.setSystemTime(new Date("2026-11-24T10:04:30.000Z"));
    await vi.waitFor(async () => expect(await fired()).toHaveLength(1), { timeout: 2_000 });
    await realSleep(200);
    expect(requested).toEqual(["poll@2026-11-24T10:04:00.000Z"]);
    scheduler.stop();
  });

  it("fires the latest slot a suspended machine slept through within a minute of waking, and keeps time after", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:00Z") });
    const { scheduler, requested } = setup();
    await scheduler.register(target("  poll:\n    prompt: P.\n    triggers:\n      - schedule: { preset: hourly, minute: 30 }\n", new Date()));
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // Three hours asleep: the wall clock moves on, timers do not (their clock stops in suspend).
    vi.setSystemTime(new Date("2026-11-24T13:10:00Z"));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requested).toEqual(["poll@2026-11-24T12:30:00.000Z"]);
    await vi.advanceTimersByTimeAsync(HOUR + 30 * 60_000);
    expect(requested).toEqual(["poll@2026-11-24T12:30:00.000Z", "poll@2026-11-24T13:30:00.000Z", "poll@2026-11-24T14:30:00.000Z"]);
    scheduler.stop();
  });

  it("never fires a slot twice when the clock is stepped back", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:30Z") });
    const { scheduler, requested } = setup();
    await scheduler.register(target(everyMinute, new Date()));
    await vi.advanceTimersByTimeAsync(40_000);
    expect(requested).toEqual(["poll@2026-11-24T10:01:00.000Z"]);
    vi.setSystemTime(new Date("2026-11-24T10:00:50Z"));
    await vi.advanceTimersByTimeAsync(80_000);
    expect(requested).toEqual(["poll@2026-11-24T10:01:00.000Z", "poll@2026-11-24T10:02:00.000Z"]);
    scheduler.stop();
  });

  it("fires a one-off exactly once, also across a restart", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:00Z") });
    const file = join(await mkdtemp(join(tmpdir(), "routines-once-")), "routines.db");
    const first = setup(new SqliteStore(file));
    await first.scheduler.register(target(once("2026-11-24T10:30:00Z"), new Date()));
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(await first.fired()).toEqual(["migrate@2026-11-24T10:30:00.000Z"]);
    first.scheduler.stop();
    await first.store.close();

    // The server restarts within the grace period: the one-off is not fired again.
    const second = setup(new SqliteStore(file));
    await second.scheduler.register(target(once("2026-11-24T10:30:00Z"), new Date("2026-11-24T10:00:00Z")));
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(await second.fired()).toEqual(["migrate@2026-11-24T10:30:00.000Z"]);
    expect(await second.store.oneOffState("once:acme/app:migrate:2026-11-24T10:30:00.000Z")).toBe("fired");
  });

  it("fires a one-off missed while down if it is less than the grace period late, and records it missed otherwise", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T12:00:00Z") });
    const { scheduler, store, fired } = setup(undefined, HOUR);
    const registeredBefore = new Date("2026-11-24T09:00:00Z");
    await scheduler.register(
      target(
        `  recent:
    prompt: A.
    triggers:
      - schedule: { at: "2026-11-24T11:30:00Z" }
  stale:
    prompt: B.
    triggers:
      - schedule: { at: "2026-11-24T10:00:00Z" }
`,
        registeredBefore,
      ),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(await fired()).toEqual(["recent@2026-11-24T11:30:00.000Z"]);
    expect(await store.oneOffState("once:acme/app:stale:2026-11-24T10:00:00.000Z")).toBe("missed");
  });

  it("fires each slot once when several processes share the store, a one-off and a one-off caught up at start too", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:30Z") });
    const file = join(await mkdtemp(join(tmpdir(), "routines-shared-")), "routines.db");
    const processes = [setup(new SqliteStore(file)), setup(new SqliteStore(file)), setup(new SqliteStore(file))];
    // Registered by every process: `late` was due 30 s before they started, within the grace period.
    const config = target(
      everyMinute +
        once("2026-11-24T10:01:30Z") +
        `  late:
    prompt: L.
    triggers:
      - schedule: { at: "2026-11-24T10:00:00Z" }
`,
      new Date("2026-11-24T09:00:00Z"),
    );
    await Promise.all(processes.map(({ scheduler }) => scheduler.register(config)));
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect((await processes[0]!.fired()).sort()).toEqual([
      "late@2026-11-24T10:00:00.000Z",
      "migrate@2026-11-24T10:01:00.000Z",
      "poll@2026-11-24T10:01:00.000Z",
      "poll@2026-11-24T10:02:00.000Z",
      "poll@2026-11-24T10:03:00.000Z",
    ]);
    // Every process's timer fired each cron slot; the store let one of them in.
    for (const { requested } of processes) expect(requested.filter((slot) => slot.startsWith("poll@"))).toHaveLength(3);
    for (const { scheduler, store, errors } of processes) {
      scheduler.stop();
      expect(errors).toEqual([]);
      await store.close();
    }
  });

  it("replaces a repository's schedules when they are registered again, and stops them on removal", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:00Z") });
    const { scheduler, fired } = setup();
    const hourly = (name: string) => `  ${name}:
    prompt: P.
    triggers:
      - schedule: { preset: hourly, minute: 30 }
`;
    await scheduler.register(target(hourly("old"), new Date()));
    await vi.advanceTimersByTimeAsync(HOUR);
    await scheduler.register(target(hourly("new"), new Date()));
    await vi.advanceTimersByTimeAsync(HOUR);
    scheduler.unregisterInstallation(1);
    expect(scheduler.repositories).toEqual([]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(await fired()).toEqual(["old@2026-11-24T10:30:00.000Z", "new@2026-11-24T11:30:00.000Z"]);
  });

  it("keeps only the later of two overlapping registrations, and nothing after an overlapping removal", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:00Z") });
    const { scheduler, requested } = setup();
    // The one-off makes registering wait for the store, so the next call comes in meanwhile.
    const routines = (name: string) => `  ${name}:
    prompt: P.
    triggers:
      - schedule: { preset: hourly, minute: 30 }
  ${name}-once:
    prompt: O.
    triggers:
      - schedule: { at: "2026-11-24T10:15:00Z" }
`;
    await Promise.all([scheduler.register(target(routines("old"), new Date())), scheduler.register(target(routines("new"), new Date()))]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(requested.sort()).toEqual(["new-once@2026-11-24T10:15:00.000Z", "new@2026-11-24T10:30:00.000Z"]);

    const pending = scheduler.register(target(routines("gone"), new Date()));
    scheduler.unregister(repository);
    await pending;
    expect(scheduler.repositories).toEqual([]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(requested).toHaveLength(2);
  });

  it("stays quiet while the installation is disabled", async () => {
    vi.useFakeTimers({ now: new Date("2026-11-24T10:00:00Z") });
    const { scheduler, store, fired } = setup();
    await scheduler.register(target("  poll:\n    prompt: P.\n    triggers:\n      - schedule: { preset: hourly }\n", new Date()));
    await store.setInstallationDisabled(1, true);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    await store.setInstallationDisabled(1, false);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(await fired()).toEqual(["poll@2026-11-24T13:00:00.000Z"]);
    scheduler.stop();
  });
});
