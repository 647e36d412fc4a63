// Every request the app's clients send to GitHub passes the server's redactor: comments, reviews,
// pull requests, check runs and command replies alike, whichever part of the server wrote them.
import type { Redactor } from "../session/redact.js";

/** What Octokit reads to build the request itself, not text that GitHub keeps. */
const REQUEST_KEYS = new Set(["method", "url", "baseUrl", "headers", "request", "mediaType"]);

interface Hookable {
  hook: { before(name: "request", hook: (options: Record<string, unknown>) => void): void };
}

/** An Octokit plugin: the parameters of each request, redacted before it is sent. */
export function redactRequests(redact: Redactor) {
  return (octokit: Hookable): void => {
    octokit.hook.before("request", (options) => {
      for (const [key, value] of Object.entries(options)) if (!REQUEST_KEYS.has(key)) options[key] = redact(value);
    });
  };
}
