// `routines validate [file] [--repo owner/name]`: every problem as file:line:col, exit 0 when
// valid, 1 when not. A file in a checkout (.claude/routines.yml) also has its prompt files checked
// in that checkout. Given the repository, it also checks the secrets the file names against the
// grants of the server's settings (its environment and .env), as the server's config check does.
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { byPosition, formatProblem, isError } from "../config/problem.js";
import { resolveInside } from "../session/paths.js";
import { promptFileProblems } from "../config/prompt-files.js";
import { withSecretScope } from "../config/secret-scope.js";
import { validateRoutines, type RoutinesConfig } from "../config/validate.js";
import type { RepositoryId } from "../run-request.js";
import { budgetCeilings, readSettings } from "../settings.js";
import { CliError, readInput, type Io } from "./io.js";

/** Reads and validates a routines file; prints its problems. With a repository, secrets not granted to it are problems too. */
export async function loadConfigFile(file: string, io: Io, repository?: string): Promise<RoutinesConfig> {
  const source = await readInput(file);
  const settings = readSettings(io.env);
  const validated = validateRoutines(source, { minScheduleInterval: settings.minScheduleInterval, maxGithubWrites: settings.maxGithubWrites, budgetCeilings: budgetCeilings(settings) });
  const scoped = repository === undefined ? validated : withSecretScope(source, validated, settings.secrets, repositoryId(repository));
  const root = checkoutOf(file);
  const missing = root === undefined ? [] : await promptFileProblems(source, scoped, (path) => sizeInCheckout(root, path));
  const config = missing.length === 0 ? scoped : { ...scoped, problems: [...scoped.problems, ...missing].sort(byPosition) };
  for (const problem of config.problems) io.out(`${formatProblem(file, problem)}\n`);
  return config;
}

export const countErrors = (config: RoutinesConfig) => config.problems.filter(isError).length;

/** The checkout a routines file belongs to: the folder above its .claude/, or none (standard input, a file elsewhere). */
function checkoutOf(file: string): string | undefined {
  if (file === "-") return undefined;
  const folder = dirname(resolve(file));
  return basename(folder) === ".claude" ? dirname(folder) : undefined;
}

async function sizeInCheckout(root: string, path: string): Promise<number | undefined> {
  try {
    const info = await stat(await resolveInside(await realpath(root), path));
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

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
