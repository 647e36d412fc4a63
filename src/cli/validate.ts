// `routines validate [file] [--repo owner/name]`: every problem as file:line:col, exit 0 when
// valid, 1 when not. Given the repository, it also checks the secrets the file names against the
// grants of the server's settings (its environment and .env), as the server's config check does.
import { formatProblem, isError } from "../config/problem.js";
import { withSecretScope } from "../config/secret-scope.js";
import { validateRoutines, type RoutinesConfig } from "../config/validate.js";
import type { RepositoryId } from "../run-request.js";
import { readSettings } from "../settings.js";
import { CliError, readInput, type Io } from "./io.js";

/** Reads and validates a routines file; prints its problems. With a repository, secrets not granted to it are problems too. */
export async function loadConfigFile(file: string, io: Io, repository?: string): Promise<RoutinesConfig> {
  const source = await readInput(file);
  const settings = readSettings(io.env);
  const validated = validateRoutines(source, { minScheduleInterval: settings.minScheduleInterval });
  const config = repository === undefined ? validated : withSecretScope(source, validated, settings.secrets, repositoryId(repository));
  for (const problem of config.problems) io.out(`${formatProblem(file, problem)}\n`);
  return config;
}

export const countErrors = (config: RoutinesConfig) => config.problems.filter(isError).length;

function repositoryId(text: string): RepositoryId {
  const [owner, repo, extra] = text.split("/");
  if (!owner || !repo || extra !== undefined) throw new CliError(`--repo ${JSON.stringify(text)} is not owner/name`, 2);
  return { owner, repo };
}

export async function validate(file: string, io: Io, repository?: string): Promise<number> {
  const config = await loadConfigFile(file, io, repository);
  const errors = countErrors(config);
  if (errors > 0) {
    io.out(`${file}: ${errors} error${errors === 1 ? "" : "s"}\n`);
    return 1;
  }
  const names = Object.keys(config.routines);
  io.out(`${file}: valid, ${names.length} routine${names.length === 1 ? "" : "s"}${names.length ? ` (${names.join(", ")})` : ""}\n`);
  return 0;
}
