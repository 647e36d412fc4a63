// Secrets never leave the harness: every string bound for a transcript, a log or GitHub passes
// through the run's redactor first.

export type Redactor = <T>(value: T) => T;

export const REDACTED = "[REDACTED]";
/** Shorter values are too likely to be ordinary text. */
const MIN_SECRET_LENGTH = 8;

/** GitHub's tokens by their documented prefixes (installation, user, OAuth, refresh, personal): redacted whoever minted them. */
const GITHUB_TOKEN = /\b(?:gh[opsur]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b/g;

/**
 * A redactor of the given secret values. Pass a function when the set grows during the run (a
 * refreshed token): it is read again at each use.
 */
export function createRedactor(secrets: Iterable<string | undefined> | (() => Iterable<string | undefined>)): Redactor {
  const valuesOf = (list: Iterable<string | undefined>) =>
    [...new Set([...list].filter((secret): secret is string => typeof secret === "string" && secret.length >= MIN_SECRET_LENGTH))]
      // Longest first, so a secret that contains another is replaced whole.
      .sort((a, b) => b.length - a.length);
  const fixed = typeof secrets === "function" ? undefined : valuesOf(secrets);
  // The values are read once per call, not once per string of the value.
  const redactWith = (values: string[], value: unknown): unknown => {
    if (typeof value === "string") return values.reduce((result, secret) => result.split(secret).join(REDACTED), value).replace(GITHUB_TOKEN, REDACTED);
    if (Array.isArray(value)) return value.map((inner) => redactWith(values, inner));
    if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactWith(values, inner)]));
    }
    return value;
  };
  return <T>(value: T) => redactWith(fixed ?? valuesOf((secrets as () => Iterable<string | undefined>)()), value) as T;
}
