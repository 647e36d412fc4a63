// Time zones, cron expressions and one-off times: validation and next occurrences.
// node-cron parses and matches the cron expressions that the scheduler fires, so it also decides what a valid cron is.
import cron from "node-cron";
import { nextSlots } from "./cron-slots.js";
import { DateTime, IANAZone } from "luxon";
import { quote } from "./problem.js";

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Why a cron expression is not a valid five-field expression, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `invalid cron expression ${quote(expression)}: expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  }
  const detail = cron.validateDetailed(expression);
  const error = detail.errors[0];
  if (error) {
    const value = error.value === undefined ? "" : ` ${quote(String(error.value))}`;
    return `invalid cron expression ${quote(expression)}: ${error.field} field${value} is not valid`;
  }
  try {
    cron.parse(expression);
  } catch (cause) {
    return `invalid cron expression ${quote(expression)}: ${(cause as Error).message}`;
  }
  return undefined;
}

/** The next `count` times a valid cron expression fires, counted from now (none after `until`), in the given zone: the scheduler's own slots. */
export function nextCronRuns(expression: string, timezone: string, count: number, until?: Date): Date[] {
  return nextSlots(expression, timezone, count, new Date(), until);
}

/** How far past its first firing an expression is sampled: any gap people schedule shows within a year. */
const SAMPLE_HORIZON_MS = 400 * 24 * 3_600_000;

/**
 * The shortest gap between two consecutive firings, looked for among the next `sample` firings
 * within SAMPLE_HORIZON_MS of the first. Cron fields repeat, so the sample sees every dense
 * stretch of any expression people write; the horizon keeps a rare expression ("29 February, if a
 * Monday") from costing decades of days. Infinity when it fires at most once in the horizon.
 */
export function shortestCronInterval(expression: string, timezone: string, sample = 50): number {
  const [first] = nextSlots(expression, timezone, 1);
  if (!first) return Number.POSITIVE_INFINITY;
  const runs = [first, ...nextSlots(expression, timezone, sample - 1, first, new Date(first.getTime() + SAMPLE_HORIZON_MS))];
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < runs.length; i++) {
    shortest = Math.min(shortest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  }
  return shortest;
}

const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

/** The instant a one-off `at` names; without an offset it is read in `timezone`. */
export function parseAt(text: string, timezone: string): Date | undefined {
  if (!LOCAL_DATE_TIME.test(text)) return undefined;
  const parsed = DateTime.fromISO(text.replace(" ", "T"), { zone: timezone });
  return parsed.isValid ? parsed.toJSDate() : undefined;
}

/** A time as a reader in that zone would write it, e.g. "2026-11-25 09:00 Europe/Berlin". */
export function formatInZone(instant: Date, timezone: string): string {
  return DateTime.fromJSDate(instant, { zone: timezone }).toFormat("yyyy-MM-dd HH:mm z");
}
