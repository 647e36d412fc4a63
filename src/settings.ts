// Operator settings read from the environment, checked once at start with a message naming the variable.
import { parseDuration } from "./config/duration.js";
import { DEFAULT_MIN_SCHEDULE_INTERVAL } from "./config/validate.js";

export interface Settings {
  /** Shortest allowed gap between two runs of a schedule, in milliseconds (ROUTINES_MIN_SCHEDULE_INTERVAL). */
  minScheduleInterval: number;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    minScheduleInterval: durationSetting(env, "ROUTINES_MIN_SCHEDULE_INTERVAL", DEFAULT_MIN_SCHEDULE_INTERVAL),
  };
}

function durationSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new SettingsError(`${name}=${JSON.stringify(text)} is not a duration; use a value such as "15m" or "1h"`);
  }
  return ms;
}
