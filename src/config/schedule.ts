// What a schedule trigger means: its cron expression, its time zone, its next times and its
// description in words. The scheduler and the config check both read schedules through here.
import cronstrue from "cronstrue";
import { WEEKDAYS, type ScheduleTrigger } from "./schema.js";
import { formatInZone, nextCronRuns, parseAt } from "./time.js";

export const DEFAULT_TIMEZONE = "UTC";

export const timezoneOf = (schedule: ScheduleTrigger) => schedule.timezone ?? DEFAULT_TIMEZONE;

/** The five-field cron expression of a recurring schedule; undefined for a one-off `at`. */
export function scheduleCron(schedule: ScheduleTrigger): string | undefined {
  if (schedule.cron !== undefined) return schedule.cron.trim();
  if (schedule.preset === undefined) return undefined;
  if (schedule.preset === "hourly") return `${schedule.minute ?? 0} * * * *`;
  const [hour, minute] = (schedule.time ?? "00:00").split(":").map(Number);
  const days = { daily: "*", weekdays: "1-5", weekly: String((WEEKDAYS.indexOf(schedule.day ?? "monday") + 1) % 7) }[schedule.preset];
  return `${minute} ${hour} * * ${days}`;
}

/** The instant of a one-off schedule; undefined for a recurring one. */
export function scheduleInstant(schedule: ScheduleTrigger): Date | undefined {
  return schedule.at === undefined ? undefined : parseAt(schedule.at, timezoneOf(schedule));
}

/**
 * The next times the schedule fires, at most `count`, and within `horizonMs` of now when given. A
 * one-off time already past has none.
 */
export function nextRuns(schedule: ScheduleTrigger, count: number, now = new Date(), horizonMs?: number): Date[] {
  const cron = scheduleCron(schedule);
  if (cron !== undefined) return nextCronRuns(cron, timezoneOf(schedule), count, horizonMs === undefined ? undefined : new Date(now.getTime() + horizonMs));
  const instant = scheduleInstant(schedule);
  return instant && instant > now ? [instant] : [];
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** e.g. "weekdays at 09:00 (Europe/Berlin)", "every hour at minute 15 (UTC)", "once at 2026-12-01 09:00 UTC". */
export function describeSchedule(schedule: ScheduleTrigger): string {
  const zone = timezoneOf(schedule);
  const instant = scheduleInstant(schedule);
  if (instant) return `once at ${formatInZone(instant, zone)}`;
  switch (schedule.preset) {
    case "hourly":
      return `every hour at minute ${schedule.minute ?? 0} (${zone})`;
    case "daily":
      return `daily at ${schedule.time} (${zone})`;
    case "weekdays":
      return `weekdays at ${schedule.time} (${zone})`;
    case "weekly":
      return `${capitalize(schedule.day ?? "monday")}s at ${schedule.time} (${zone})`;
  }
  const cron = scheduleCron(schedule) ?? "";
  const words = cronstrue.toString(cron, { use24HourTimeFormat: true, throwExceptionOnParseError: false });
  return `${words.charAt(0).toLowerCase()}${words.slice(1)} (${zone}, cron "${cron}")`;
}
