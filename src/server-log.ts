// The server's one logger, for Probot and the app: every line passes the server's redactor, and
// what HTTP requests carry as credentials (authorization headers, cookies, OAuth's code and state,
// tokens in query strings) is replaced before a line is written, request URLs included.
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import { REDACTED, type Redactor } from "./session/redact.js";

/** Query parameters that carry credentials: OAuth's code and state, and tokens. */
const CREDENTIAL_PARAMETERS = /([?&](?:code|state|token|access_token|refresh_token|id_token|client_secret|password|secret)=)[^&\s"'#\\]*/gi;
/**
 * Headers that carry credentials, as a JSON log line holds them: a string or a list of strings.
 * An API fire's idempotency key goes too: callers put meaning into it (an alert id, a host).
 */
const CREDENTIAL_HEADERS = /"(authorization|proxy-authorization|cookie|set-cookie|x-api-key|idempotency-key)":\s*(?:"(?:[^"\\]|\\.)*"|\[(?:[^\]"]|"(?:[^"\\]|\\.)*")*\])/gi;

/** A written log line without credentials or secrets. */
export function redactLogLine(line: string, redact: Redactor): string {
  return redact(line).replace(CREDENTIAL_PARAMETERS, `$1${REDACTED}`).replace(CREDENTIAL_HEADERS, `"$1":"${REDACTED}"`);
}

/**
 * Probot names each child logger on top of its parent's (routines, probot, github…), and pino writes
 * every name it was given: a JSON line with "name" three times, which log readers take differently.
 * Such a line keeps one name, the innermost.
 */
export function innermostName(line: string): string {
  if (line.indexOf('"name":') === line.lastIndexOf('"name":')) return line;
  try {
    return `${JSON.stringify(JSON.parse(line))}\n`;
  } catch {
    return line;
  }
}

export type LogFormat = "json" | "pretty";

/**
 * How lines are written (LOG_FORMAT): JSON lines for log collectors, or pretty lines for people.
 * Unset, a terminal gets pretty lines and anything else JSON, as with Probot.
 */
export function logFormatOf(env: { LOG_FORMAT?: string }, terminal: boolean): LogFormat {
  const format = env.LOG_FORMAT?.trim().toLowerCase();
  if (!format) return terminal ? "pretty" : "json";
  if (format === "json" || format === "pretty") return format;
  throw new Error(`LOG_FORMAT=${JSON.stringify(env.LOG_FORMAT)} is not json or pretty`);
}

/** One logger for Probot and the app: the same lines, redacted, in one format. */
export function createServerLog(
  redact: Redactor,
  { level = "info", format = "json", destination }: { level?: string; format?: LogFormat; destination?: pino.DestinationStream } = {},
): Logger {
  const options: pino.LoggerOptions = {
    name: "routines",
    level,
    // Request logs would carry API bearer tokens and dashboard cookies: those headers never reach a line.
    redact: { paths: ["req.headers.authorization", "req.headers.cookie", 'req.headers["idempotency-key"]', 'res.headers["set-cookie"]'], censor: REDACTED },
    hooks: { streamWrite: (line) => redactLogLine(innermostName(line), redact) },
  };
  // Pretty lines are made from the redacted JSON line, so they carry nothing it does not.
  const target = format === "pretty" ? pretty({ sync: true, colorize: destination === undefined && process.stdout.isTTY, ...(destination ? { destination } : {}) }) : destination;
  return target ? pino(options, target) : pino(options);
}
