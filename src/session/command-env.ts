// The environment of every command the agent runs, built from an allowlist: never the server's
// own, which holds the model key, the app's private key and the webhook secret.
import type { Environment } from "../config/schema.js";
import { SECRET_PREFIX, type SecretGrants } from "../config/secret-grants.js";
import type { RepositoryId } from "../run-request.js";

/** Server variables a command may see. */
const INHERITED = ["PATH", "LANG", "LC_ALL", "TZ"] as const;

export class MissingSecretsError extends Error {
  override name = "MissingSecretsError";
}

/**
 * The values of the named secrets for a local run (`routines run`), whose operator holds them
 * all: every one must be set as ROUTINES_SECRET_<NAME>. The server resolves grants instead.
 */
export function resolveSecrets(names: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const missing = names.filter((name) => env[`${SECRET_PREFIX}${name}`] === undefined);
  if (missing.length > 0) {
    throw new MissingSecretsError(`the server has no value for secret${missing.length === 1 ? "" : "s"} ${missing.join(", ")} (set ${missing.map((name) => `${SECRET_PREFIX}${name}`).join(", ")})`);
  }
  return Object.fromEntries(names.map((name) => [name, env[`${SECRET_PREFIX}${name}`]!]));
}

/**
 * The secrets a run of the repository gets: those granted to it, none at all for runs that must
 * not have them (fork pull requests). Throws a SecretGrantError for a secret not granted to it.
 */
export function runSecrets(names: readonly string[], withoutSecrets: boolean, grants: SecretGrants, repository: RepositoryId): Record<string, string> {
  return withoutSecrets ? {} : grants.resolve(names, repository);
}

export function commandEnvironment(options: {
  home: string;
  /** The run's temporary directory; runs always have one. */
  tmp?: string;
  environment?: Environment;
  secrets: Record<string, string>;
}): Record<string, string> {
  const inherited = Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    ...inherited,
    HOME: options.home,
    TERM: "dumb",
    CI: "true",
    ...options.environment?.env,
    ...options.secrets,
    // The run's own, under every policy: the sandbox sets it too, whatever the environment says.
    ...(options.tmp ? { TMPDIR: options.tmp } : {}),
  };
}
