// A routines file whose environments name secrets the server's operator has not granted to the
// repository: one error per such secret, at its place in the file, saying what the operator can set.
import { LineCounter, parseDocument } from "yaml";
import { createLocator } from "./locate.js";
import { byPosition, type Problem } from "./problem.js";
import type { SecretGrants } from "./secret-grants.js";
import type { RepositoryId } from "../run-request.js";
import type { RoutinesConfig } from "./validate.js";

export function secretScopeProblems(source: string, config: RoutinesConfig, grants: SecretGrants, repository: RepositoryId): Problem[] {
  const ungranted = Object.entries(config.environments).flatMap(([environment, { secrets = [] }]) =>
    secrets.flatMap((name, index) => {
      const problem = grants.problem([name], repository);
      return problem ? [{ path: ["environments", environment, "secrets", index], message: problem }] : [];
    }),
  );
  if (ungranted.length === 0) return [];
  // The file is parsed again only to place the problems, which is rare.
  const lineCounter = new LineCounter();
  const locate = createLocator(parseDocument(source, { lineCounter }), lineCounter);
  return ungranted.map(({ path, message }) => ({ ...locate(path), path, message, severity: "error" as const })).sort(byPosition);
}

/** The config with the secret-scope problems among its own, in source order. */
export function withSecretScope(source: string, config: RoutinesConfig, grants: SecretGrants, repository: RepositoryId): RoutinesConfig {
  const problems = secretScopeProblems(source, config, grants, repository);
  return problems.length === 0 ? config : { ...config, problems: [...config.problems, ...problems].sort(byPosition) };
}
