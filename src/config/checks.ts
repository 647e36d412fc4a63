// Checks that the schema alone cannot make: references between parts of the file, duplicates,
// and rules that depend on the clock or on the operator's settings.
import { formatDuration } from "./duration.js";
import type { Locator } from "./locate.js";
import { formatPath, oneLine, quote, type ConfigPath, type Problem } from "./problem.js";
import { scheduleCron, scheduleInstant, timezoneOf } from "./schedule.js";
import { Trigger, type Trigger as TriggerValue } from "./schema.js";
import { shortestCronInterval } from "./time.js";

export interface CheckOptions {
  now: Date;
  /** Shortest allowed gap between two runs of a recurring schedule, in milliseconds. */
  minScheduleInterval: number;
  /** The most GitHub writes per run a routine may ask for. */
  maxGithubWrites: number;
  /** The most dollars a routine's budget may allow, per run and per day (ROUTINES_BUDGET_MAX_RUN_USD, ROUTINES_BUDGET_MAX_DAILY_USD). */
  budgetCeilings?: BudgetCeilings;
}

export interface BudgetCeilings {
  runUsd?: number;
  dailyUsd?: number;
}

const HOUR = 3_600_000;
const PRESET_INTERVALS = { hourly: HOUR, daily: 24 * HOUR, weekdays: 24 * HOUR, weekly: 7 * 24 * HOUR } as const;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The name a command trigger answers to: its own, else the routine's. */
export function commandName(trigger: TriggerValue, routineName: string): string | undefined {
  if (!("command" in trigger)) return undefined;
  const command = trigger.command;
  if (typeof command === "string") return command;
  return command?.name ?? routineName;
}

export function crossChecks(raw: Record<string, unknown>, locate: Locator, options: CheckOptions): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, message: string, severity: Problem["severity"] = "error") =>
    problems.push({ ...locate(path), path, message, severity });

  const environments = isRecord(raw.environments) ? Object.keys(raw.environments) : [];
  const commands = new Map<string, string>();

  for (const [name, routine] of Object.entries(isRecord(raw.routines) ? raw.routines : {})) {
    if (!isRecord(routine)) continue;
    const base = ["routines", name];

    if (typeof routine.environment === "string" && !environments.includes(routine.environment)) {
      const defined = environments.length > 0 ? `defined: ${environments.map((name) => oneLine(name)).join(", ")}` : "none are defined";
      report([...base, "environment"], `environment ${quote(routine.environment)} is not defined under environments (${defined})`);
    }

    const writes = routine.max_github_writes;
    if (typeof writes === "number" && Number.isInteger(writes) && writes > options.maxGithubWrites) {
      report([...base, "max_github_writes"], `${writes} is more GitHub writes per run than the server allows (${options.maxGithubWrites}, set by ROUTINES_MAX_GITHUB_WRITES)`);
    }

    if (isRecord(routine.budget)) checkBudget(routine.budget, [...base, "budget"], report, options.budgetCeilings ?? {});

    const seen = new Map<string, number>();
    (Array.isArray(routine.triggers) ? routine.triggers : []).forEach((rawTrigger, index) => {
      const parsed = Trigger.safeParse(rawTrigger);
      if (!parsed.success) return; // already reported where the routine was parsed
      const trigger = parsed.data;
      const path = [...base, "triggers", index];

      const identity = canonical(trigger, name);
      const first = seen.get(identity);
      if (first !== undefined) {
        report(path, `duplicates ${formatPath(["triggers", first])} (line ${locate([...base, "triggers", first]).line})`);
      } else {
        seen.set(identity, index);
      }

      const command = commandName(trigger, name);
      if (command !== undefined) {
        const owner = commands.get(command);
        if (owner !== undefined && owner !== name) {
          report([...path, "command"], `command "${command}" is already used by routine "${owner}"; give this one another name`);
        } else {
          commands.set(command, name);
        }
      }

      if ("schedule" in trigger && trigger.schedule) {
        checkSchedule(trigger.schedule, [...path, "schedule"], report, options);
      }
    });
  }
  return problems;
}

/** A routine cannot raise its budget above the operator's ceiling. */
function checkBudget(budget: Record<string, unknown>, path: ConfigPath, report: (path: ConfigPath, message: string) => void, ceilings: BudgetCeilings): void {
  const over = (key: string, ceiling: number | undefined, what: string, setting: string) => {
    const value = budget[key];
    if (typeof value === "number" && ceiling !== undefined && value > ceiling) {
      report([...path, key], `$${value} is more dollars ${what} than the server allows ($${ceiling}, set by ${setting})`);
    }
  };
  over("run_usd", ceilings.runUsd, "per run", "ROUTINES_BUDGET_MAX_RUN_USD");
  over("daily_usd", ceilings.dailyUsd, "per day", "ROUTINES_BUDGET_MAX_DAILY_USD");
}

function checkSchedule(
  schedule: NonNullable<TriggerValue["schedule"]>,
  path: ConfigPath,
  report: (path: ConfigPath, message: string, severity?: Problem["severity"]) => void,
  options: CheckOptions,
): void {
  const cron = scheduleCron(schedule);
  if (cron !== undefined) {
    // Presets have known gaps; only hand-written cron expressions need sampling.
    const interval = schedule.preset !== undefined ? PRESET_INTERVALS[schedule.preset] : shortestCronInterval(cron, timezoneOf(schedule));
    if (interval < options.minScheduleInterval) {
      report(
        [...path, schedule.cron !== undefined ? "cron" : "preset"],
        `runs every ${formatDuration(interval)}, more often than the minimum interval of ${formatDuration(options.minScheduleInterval)} set by the server (ROUTINES_MIN_SCHEDULE_INTERVAL)`,
      );
    }
  }
  const instant = scheduleInstant(schedule);
  if (instant && instant <= options.now) {
    report([...path, "at"], `${instant.toISOString()} is in the past; this one-off schedule will not fire`, "warning");
  }
}

/** A trigger's identity: the same trigger written twice, even in a different key order, is one. */
function canonical(trigger: TriggerValue, routineName: string): string {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (!isRecord(value)) return value;
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sort(value[key])]));
  };
  const command = commandName(trigger, routineName);
  if (command !== undefined) return JSON.stringify({ command });
  return JSON.stringify(sort("api" in trigger ? { api: {} } : trigger));
}
