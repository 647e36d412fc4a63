// The server's one logger, for Probot and the app: every line passes the server's redactor, and
// what HTTP requests carry as credentials (authorization headers, cookies, OAuth's code and state,
// tokens in query strings) is replaced before a line is written, request URLs included.
import { pino, type Logger } from "pino";
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

export function createServerLog(redact: Redactor, { level = "info", destination }: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const options: pino.LoggerOptions = {
    name: "routines",
    level,
    // Request logs would carry API bearer tokens and dashboard cookies: those headers never reach a line.
    redact: { paths: ["req.headers.authorization", "req.headers.cookie", 'req.headers["idempotency-key"]', 'res.headers["set-cookie"]'], censor: REDACTED },
    hooks: { streamWrite: (line) => redactLogLine(line, redact) },
  };
  return destination ? pino(options, destination) : pino(options);
}
