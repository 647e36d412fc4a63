// Secrets never leave the harness: every string bound for a transcript, a log or GitHub passes
// through the run's redactor first.

export type Redactor = <T>(value: T) => T;

export const REDACTED = "[REDACTED]";
/** Shorter values are too likely to be ordinary text. */
const MIN_SECRET_LENGTH = 8;

export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  const values = [...new Set([...secrets].filter((secret): secret is string => typeof secret === "string" && secret.length >= MIN_SECRET_LENGTH))]
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  const redactString = (text: string) => values.reduce((result, secret) => result.split(secret).join(REDACTED), text);
  const redact = (value: unknown): unknown => {
    if (typeof value === "string") return redactString(value);
    if (Array.isArray(value)) return value.map(redact);
    if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redact(inner)]));
    }
    return value;
  };
  return <T>(value: T) => (values.length === 0 ? value : (redact(value) as T));
}
