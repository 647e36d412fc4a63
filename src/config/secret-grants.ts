// Which secret values the operator grants to which repositories. A value is set as
// ROUTINES_SECRET_<NAME> and granted with ROUTINES_SECRET_<NAME>_REPOSITORIES, a list of
// `owner/repo`, `owner/*` (every repository of that account's installation) or `*`; a value granted
// to nothing is available to no repository. Further values of the same name, for other
// repositories, are set as ROUTINES_SECRET_<NAME>__<LABEL> with their own _REPOSITORIES. Where
// several grants of a name match a repository, the most specific wins: owner/repo, then owner/*,
// then *.
import { repositoryPatternScore } from "./repository-pattern.js";
import { fullName } from "./share-with.js";
import type { RepositoryId } from "../run-request.js";

export const SECRET_PREFIX = "ROUTINES_SECRET_";
const SCOPE_SUFFIX = "_REPOSITORIES";
const LABEL_SEPARATOR = "__";

export interface SecretGrant {
  /** The name routines use, e.g. VAULT_KEY. */
  name: string;
  /** The variable that holds the value, e.g. ROUTINES_SECRET_VAULT_KEY__GLOBEX. */
  variable: string;
  value: string;
  /** Lower-case patterns: owner/repo, owner/* or *. */
  repositories: string[];
}

export class SecretGrantError extends Error {
  override name = "SecretGrantError";
}

const PATTERN = /^(?:\*|[a-z0-9][a-z0-9-]*\/(?:\*|[a-z0-9._-]+))$/;



export class SecretGrants {
  constructor(readonly grants: readonly SecretGrant[] = []) {}

  /** Every value the operator set, granted or not: what must never leave a run. */
  values(): string[] {
    return this.grants.map((grant) => grant.value);
  }

  /** Values set but granted to no repository. */
  ungranted(): SecretGrant[] {
    return this.grants.filter((grant) => grant.repositories.length === 0);
  }

  /** The grant of `name` that applies to the repository, if any. */
  grantFor(name: string, repository: RepositoryId): SecretGrant | undefined {
    let best: { grant: SecretGrant; score: number } | undefined;
    for (const grant of this.grants) {
      if (grant.name !== name) continue;
      const score = Math.max(0, ...grant.repositories.map((pattern) => repositoryPatternScore(pattern, repository)));
      if (score > (best?.score ?? 0)) best = { grant, score };
    }
    return best?.grant;
  }

  /** Why the repository cannot have these secrets, saying what the operator can set; undefined when it can. */
  problem(names: readonly string[], repository: RepositoryId): string | undefined {
    const problems = names.filter((name) => !this.grantFor(name, repository)).map((name) => this.#why(name, repository));
    return problems.length > 0 ? problems.join("; ") : undefined;
  }

  #why(name: string, repository: RepositoryId): string {
    const variable = `${SECRET_PREFIX}${name}`;
    const where = fullName(repository).toLowerCase();
    if (!this.grants.some((grant) => grant.name === name)) {
      return `the server has no value for secret ${name}: its operator can set ${variable}=<value> and ${variable}${SCOPE_SUFFIX}=${where}`;
    }
    return `secret ${name} is not granted to ${where}: its operator can add ${where} to ${variable}${SCOPE_SUFFIX} (to share the value of ${variable}), or set ${variable}${LABEL_SEPARATOR}<LABEL>=<value> and ${variable}${LABEL_SEPARATOR}<LABEL>${SCOPE_SUFFIX}=${where} (for a value of its own)`;
  }

  /** The values of the named secrets granted to the repository; throws when one is not. */
  resolve(names: readonly string[], repository: RepositoryId): Record<string, string> {
    const problem = this.problem(names, repository);
    if (problem) throw new SecretGrantError(problem);
    return Object.fromEntries(names.map((name) => [name, this.grantFor(name, repository)!.value]));
  }
}

/** The operator's grants from ROUTINES_SECRET_* variables; throws naming the variable that is wrong. */
export function readSecretGrants(env: NodeJS.ProcessEnv): SecretGrants {
  const values = new Map<string, string>();
  const scopes = new Map<string, string>();
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(SECRET_PREFIX) || value === undefined) continue;
    if (variable.endsWith(SCOPE_SUFFIX)) scopes.set(variable.slice(0, -SCOPE_SUFFIX.length), value);
    else values.set(variable, value);
  }
  for (const variable of scopes.keys()) {
    if (!values.has(variable)) throw new SecretGrantError(`${variable}${SCOPE_SUFFIX} is set, but ${variable} is not: set the secret's value too, or remove the grant`);
  }
  const grants: SecretGrant[] = [];
  for (const [variable, value] of values) {
    const rest = variable.slice(SECRET_PREFIX.length);
    const name = rest.split(LABEL_SEPARATOR)[0]!;
    if (name === "") throw new SecretGrantError(`${variable} has no secret name: use ${SECRET_PREFIX}<NAME>`);
    const repositories = parsePatterns(`${variable}${SCOPE_SUFFIX}`, scopes.get(variable) ?? "");
    for (const other of grants.filter((grant) => grant.name === name)) {
      const shared = repositories.find((pattern) => other.repositories.includes(pattern));
      if (shared) throw new SecretGrantError(`${other.variable} and ${variable} both grant secret ${name} to ${shared}: grant each repository one value`);
    }
    grants.push({ name, variable, value, repositories });
  }
  return new SecretGrants(grants);
}

function parsePatterns(variable: string, text: string): string[] {
  const patterns = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((pattern) => pattern.toLowerCase());
  const wrong = patterns.find((pattern) => !PATTERN.test(pattern));
  if (wrong !== undefined) throw new SecretGrantError(`${variable}: ${JSON.stringify(wrong)} is not owner/repository, owner/* or *`);
  return [...new Set(patterns)];
}
