import { afterEach, describe, expect, it, vi } from "vitest";
import { describeSchedule, nextRuns, scheduleCron } from "../../src/config/schedule.js";
import { ScheduleTrigger } from "../../src/config/schema.js";
import { parseDuration, formatDuration } from "../../src/config/duration.js";

const schedule = (value: unknown) => ScheduleTrigger.parse(value);

describe("schedules", () => {
  afterEach(() => vi.useRealTimers());

  it.each([
    [{ preset: "hourly", minute: 15 }, "15 * * * *", "every hour at minute 15 (UTC)"],
    [{ preset: "daily", time: "09:30" }, "30 9 * * *", "daily at 09:30 (UTC)"],
    [{ preset: "weekdays", time: "08:00", timezone: "Europe/Berlin" }, "0 8 * * 1-5", "weekdays at 08:00 (Europe/Berlin)"],
    [{ preset: "weekly", time: "17:00", day: "sunday" }, "0 17 * * 0", "Sundays at 17:00 (UTC)"],
    [{ cron: "0 9 * * 1" }, "0 9 * * 1", 'at 09:00, only on Monday (UTC, cron "0 9 * * 1")'],
  ])("%j is %s, %s", (value, cron, words) => {
    expect(scheduleCron(schedule(value))).toBe(cron);
    expect(describeSchedule(schedule(value))).toBe(words);
  });

  it("gives the next times in the schedule's time zone", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-11-24T12:00:00Z") });
    const runs = nextRuns(schedule({ preset: "weekdays", time: "09:00", timezone: "Europe/Berlin" }), 3);
    expect(runs.map((run) => run.toISOString())).toEqual([
      "2026-11-25T08:00:00.000Z",
      "2026-11-26T08:00:00.000Z",
      "2026-11-27T08:00:00.000Z",
    ]);
  });

  it("gives a one-off time once, and never when it has passed", () => {
    const once = schedule({ at: "2026-12-01T09:00", timezone: "America/New_York" });
    expect(describeSchedule(once)).toBe("once at 2026-12-01 09:00 America/New_York");
    expect(nextRuns(once, 3, new Date("2026-11-24T00:00:00Z"))).toEqual([new Date("2026-12-01T14:00:00Z")]);
    expect(nextRuns(once, 3, new Date("2026-12-02T00:00:00Z"))).toEqual([]);
  });
});

describe("durations", () => {
  it.each([["90s", 90_000], ["30m", 1_800_000], ["1h30m", 5_400_000], ["2d", 172_800_000]])("%s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(formatDuration(ms)).toBe(text === "90s" ? "1m30s" : text);
  });

  it.each(["", "30", "m", "30 minutes", "1.5h", "-1h"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
