// The slots of a cron expression in a time zone, counted from any instant. node-cron's public
// next-run methods count only from the real clock; the scheduler needs "the slot after this
// slot" to catch up after a late timer. This walks the days the way node-cron's own matcher
// does (same candidates, same order, node-cron's `match` as the judge), across DST changes too.
// The scheduler fires these slots and the dashboard shows them: one source for both.
import cron from "node-cron";
import { DateTime } from "luxon";

/** As far as node-cron looks: "29 February, if a Monday" comes round only every 28 years. */
const MAX_DAYS = 366 * 100;
const DAY_MS = 86_400_000;

export interface CronSlots {
  /**
   * The first slot strictly after `instant` (at whole-second precision), or undefined if none comes
   * (before `until`, when given: days after it are not looked at).
   */
  after(instant: Date, until?: Date): Date | undefined;
  /** Releases the matcher; node-cron keeps every task it creates in a registry. */
  dispose(): void;
}

interface LocalDay {
  year: number;
  month: number;
  day: number;
}
interface LocalTime extends LocalDay {
  hour: number;
  minute: number;
  second: number;
}

export function cronSlots(expression: string, timezone: string): CronSlots {
  const fields = cron.parse(expression);
  const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
  const [seconds, minutes, hours] = [ascending(fields.second), ascending(fields.minute), ascending(fields.hour)];
  // Never started, so it arms no timer: it is only asked whether an instant matches.
  const matcher = cron.createTask(expression, () => undefined, { timezone });
  const matches = (ms: number) => matcher.match(new Date(ms));
  const mayMatchDate = dateFilter(fields);

  const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone: timezone }).offset * 60_000;
  const readsBack = (ms: number, wanted: LocalTime) => {
    const local = DateTime.fromMillis(ms, { zone: timezone });
    return local.year === wanted.year && local.month === wanted.month && local.day === wanted.day && local.hour === wanted.hour && local.minute === wanted.minute && local.second === wanted.second;
  };
  /**
   * The instant of a local time, resolved as node-cron resolves it: a time that occurs twice (clocks
   * going back) gets the offset in force at the same wall-clock time read as UTC; a time in a gap
   * (clocks going forward) does not read back and so never matches.
   */
  const instantOf = (wanted: LocalTime) => {
    const guess = Date.UTC(wanted.year, wanted.month - 1, wanted.day, wanted.hour, wanted.minute, wanted.second);
    const first = guess - offsetAt(guess);
    const second = guess - offsetAt(first);
    if (first === second || readsBack(first, wanted)) return first;
    return readsBack(second, wanted) ? second : Math.max(first, second);
  };

  /** Whether the day's date fields match: asked at its first candidate time, unless a DST gap swallowed it. */
  const dayMayMatch = (day: LocalDay) => {
    const wanted = { ...day, hour: hours[0]!, minute: minutes[0]!, second: seconds[0]! };
    const first = instantOf(wanted);
    return !readsBack(first, wanted) || matches(first);
  };

  /** The day's first matching time after `base`; on the first day only times of day later than base's. */
  const firstOnDay = (day: LocalDay, base: number, bound?: DateTime) => {
    const boundSecond = bound ? bound.hour * 3600 + bound.minute * 60 + bound.second : -1;
    for (const hour of hours) {
      if (hour * 3600 + 3599 <= boundSecond) continue;
      for (const minute of minutes) {
        for (const second of seconds) {
          if (hour * 3600 + minute * 60 + second <= boundSecond) continue;
          const ms = instantOf({ ...day, hour, minute, second });
          if (ms > base && matches(ms)) return ms;
        }
      }
    }
    return undefined;
  };

  return {
    after(instant, until) {
      const base = Math.floor(instant.getTime() / 1000) * 1000;
      const start = DateTime.fromMillis(base, { zone: timezone });
      // A day whose local midnight is past `until` by more than any offset cannot hold a slot before it.
      const lastDay = until === undefined ? undefined : Date.UTC(...utcDayOf(until.getTime() + 14 * 3_600_000));
      let day: LocalDay = { year: start.year, month: start.month, day: start.day };
      const first = Date.UTC(day.year, day.month - 1, day.day);
      for (let at = first; at - first < MAX_DAYS * DAY_MS; at = Date.UTC(day.year, day.month - 1, day.day)) {
        if (lastDay !== undefined && at > lastDay) return undefined;
        // A month the expression never names is passed over whole.
        if (!mayMatchDate.month(day.month)) {
          day = { year: day.month === 12 ? day.year + 1 : day.year, month: (day.month % 12) + 1, day: 1 };
          continue;
        }
        const found = mayMatchDate.day(day) && dayMayMatch(day) ? firstOnDay(day, base, at === first ? start : undefined) : undefined;
        if (found !== undefined) return new Date(found);
        day = nextDay(day);
      }
      return undefined;
    },
    dispose: () => void matcher.destroy(),
  };
}

const utcDayOf = (ms: number): [number, number, number] => {
  const date = new Date(ms);
  return [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
};

/**
 * A cheap first look at a calendar day, from the expression's month, day-of-month and weekday
 * fields: false only for days node-cron can never match, so the costly matcher (time zones, DST)
 * runs on the few days that may. Fields with special tokens (L, W, #) are left to the matcher.
 */
function dateFilter(fields: ReturnType<typeof cron.parse>): { month(month: number): boolean; day(day: LocalDay): boolean } {
  const numbers = (values: ReadonlyArray<number | string>) => (values.every((value) => typeof value === "number") ? new Set(values as number[]) : undefined);
  const months = numbers(fields.month);
  const days = numbers(fields.dayOfMonth);
  const weekdays = numbers(fields.dayOfWeek.map((value) => (value === 7 ? 0 : value)));
  return {
    month: (month) => !months || months.has(month),
    day: ({ year, month, day }) => (!days || days.has(day)) && (!weekdays || weekdays.has(new Date(Date.UTC(year, month - 1, day)).getUTCDay())),
  };
}

function nextDay({ year, month, day }: LocalDay): LocalDay {
  const next = new Date(Date.UTC(year, month - 1, day + 1));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
}

/**
 * The next `count` slots strictly after `from`, and none after `until` when given: what the
 * dashboard and the interval check read.
 */
export function nextSlots(expression: string, timezone: string, count: number, from = new Date(), until?: Date): Date[] {
  const slots = cronSlots(expression, timezone);
  try {
    const runs: Date[] = [];
    for (let at = slots.after(from, until); at && runs.length < count && (!until || at <= until); at = slots.after(at, until)) runs.push(at);
    return runs;
  } finally {
    slots.dispose();
  }
}
