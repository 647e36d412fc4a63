// Operator lists of repositories (secret grants, ROUTINES_FULL_NETWORK_REPOSITORIES): `owner/repo`,
// `owner/*` (every repository of that account) or `*` (all), in any case.
import type { RepositoryId } from "../run-request.js";

/** How closely a pattern names a repository: owner/repo 3, owner/* 2, * 1; 0 when it does not match. */
export function repositoryPatternScore(pattern: string, repository: RepositoryId): number {
  if (pattern === "*") return 1;
  const [owner, repo] = pattern.toLowerCase().split("/");
  if (owner !== repository.owner.toLowerCase()) return 0;
  if (repo === "*") return 2;
  return repo === repository.repo.toLowerCase() ? 3 : 0;
}
