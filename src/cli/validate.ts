// `routines validate [file]`: every problem as file:line:col, exit 0 when valid, 1 when not.
import { formatProblem, isError } from "../config/problem.js";
import { validateRoutines, type RoutinesConfig } from "../config/validate.js";
import { readSettings } from "../settings.js";
import { readInput, type Io } from "./io.js";

/** Reads and validates a routines file; prints its problems. */
export async function loadConfigFile(file: string, io: Io): Promise<RoutinesConfig> {
  const source = await readInput(file);
  const config = validateRoutines(source, { minScheduleInterval: readSettings(io.env).minScheduleInterval });
  for (const problem of config.problems) io.out(`${formatProblem(file, problem)}\n`);
  return config;
}

export const countErrors = (config: RoutinesConfig) => config.problems.filter(isError).length;

export async function validate(file: string, io: Io): Promise<number> {
  const config = await loadConfigFile(file, io);
  const errors = countErrors(config);
  if (errors > 0) {
    io.out(`${file}: ${errors} error${errors === 1 ? "" : "s"}\n`);
    return 1;
  }
  const names = Object.keys(config.routines);
  io.out(`${file}: valid, ${names.length} routine${names.length === 1 ? "" : "s"}${names.length ? ` (${names.join(", ")})` : ""}\n`);
  return 0;
}
