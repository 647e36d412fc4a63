import cron from "node-cron";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cronSlots } from "../../src/config/cron-slots.js";
import { latestDue } from "../../src/triggers/slot-timer.js";

/** node-cron's own next times, counted from `from`: what the dashboard shows. */
function nodeCronRuns(expression: string, timezone: string, from: Date, count: number): string[] {
  vi.useFakeTimers({ now: from, toFake: ["Date"] });
  const task = cron.createTask(expression, () => undefined, { timezone });
  try {
    return task.getNextRuns(count).map((date) => date.toISOString());
  } finally {
    void task.destroy();
    vi.useRealTimers();
  }
}

function ourRuns(expression: string, timezone: string, from: Date, count: number): string[] {
  const slots = cronSlots(expression, timezone);
  const runs: string[] = [];
  for (let at: Date | undefined = from; runs.length < count; ) {
    at = slots.after(at);
    if (!at) break;
    runs.push(at.toISOString());
  }
  slots.dispose();
  return runs;
}

describe("cronSlots", () => {
  afterEach(() => vi.useRealTimers());

  const expressions: Array<[string, string, number?]> = [
    ["* * * * *", "UTC"],
    ["30 2 * * *", "Europe/Berlin"],
    ["*/15 1-3 * * *", "Europe/Berlin"],
    ["30 1 * * *", "America/New_York"],
    ["0 9 * * 1-5", "America/New_York"],
    ["0 0 29 2 *", "UTC", 3],
    ["0 9 L * *", "Asia/Tokyo"],
    ["0 9 * * 1#2", "Europe/London"],
    ["0 * * * *", "Australia/Lord_Howe"],
    ["5 */2 * * *", "Asia/Kolkata"],
  ];
  // Around both DST changes of 2026/2027 in Europe and America, and a year's end.
  const starts = ["2027-03-27T20:00:00Z", "2027-10-30T22:30:00Z", "2026-11-01T04:00:00Z", "2027-03-14T05:59:30Z", "2026-12-31T23:59:59.500Z"];

  it.each(expressions)("agrees with node-cron's next times for %s in %s, across DST changes", (expression, timezone, count = 30) => {
    for (const start of starts) {
      expect(ourRuns(expression, timezone, new Date(start), count), start).toEqual(nodeCronRuns(expression, timezone, new Date(start), count));
    }
  });

  it("skips a local time that does not exist and fires a repeated one once", () => {
    // Berlin: 02:30 does not exist on 2027-03-28 and happens twice on 2027-10-31.
    expect(ourRuns("30 2 * * *", "Europe/Berlin", new Date("2027-03-27T00:00:00Z"), 3)).toEqual([
      "2027-03-27T01:30:00.000Z",
      "2027-03-29T00:30:00.000Z",
      "2027-03-30T00:30:00.000Z",
    ]);
    expect(ourRuns("30 2 * * *", "Europe/Berlin", new Date("2027-10-30T00:00:00Z"), 3)).toEqual([
      "2027-10-30T00:30:00.000Z",
      "2027-10-31T01:30:00.000Z",
      "2027-11-01T01:30:00.000Z",
    ]);
  });

  it("counts strictly after an instant, to the second", () => {
    const slots = cronSlots("0 9 * * *", "UTC");
    expect(slots.after(new Date("2026-11-24T09:00:00.000Z"))?.toISOString()).toBe("2026-11-25T09:00:00.000Z");
    expect(slots.after(new Date("2026-11-24T08:59:59.999Z"))?.toISOString()).toBe("2026-11-24T09:00:00.000Z");
    slots.dispose();
  });
});

describe("latestDue", () => {
  it("is the latest slot that is due, found in a few look-ups after a long suspension", () => {
    const slots = cronSlots("* * * * *", "UTC");
    const after = vi.fn((slot: Date) => slots.after(slot));
    const first = new Date("2026-11-24T10:01:00Z");
    expect(latestDue(first, new Date("2026-12-01T10:03:30Z"), after).toISOString()).toBe("2026-12-01T10:03:00.000Z");
    expect(after.mock.calls.length).toBeLessThan(10);
    slots.dispose();
  });

  it("is the first slot when no later one is due", () => {
    const slots = cronSlots("0 9 * * *", "UTC");
    expect(latestDue(new Date("2026-11-24T09:00:00Z"), new Date("2026-11-25T08:59:59Z"), (slot) => slots.after(slot)).toISOString()).toBe("2026-11-24T09:00:00.000Z");
    expect(latestDue(new Date("2026-11-24T09:00:00Z"), new Date("2026-11-27T12:00:00Z"), (slot) => slots.after(slot)).toISOString()).toBe("2026-11-27T09:00:00.000Z");
    slots.dispose();
  });
});
