// POST /api/v1/routines/<trigger-id>/fire: starts a run of a routine with an api trigger.
// Answers: 200 with the run, 400 bad body, 401 missing or wrong token (one answer for both),
// 404 unknown trigger, 405 wrong method, 409 routine without an api trigger, 413 body over 64 KiB,
// 429 per-token rate or a run cap, 403 routines disabled, 502 GitHub unreachable.
// With an Idempotency-Key header, a retry answers what the fire that started the run answered;
// 422 when the key came with another body, 409 while that fire is still being processed.
import type { IncomingMessage, ServerResponse } from "node:http";
import { routineFacts } from "../config/environment-of.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import type { InstallationFor } from "../github/installation-client.js";
import type { Admission } from "../runs/admission.js";
import { type ApiToken, tokenMatches } from "../runs/api-tokens.js";
import { fingerprintOf, hashIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from "../runs/idempotency-keys.js";
import type { RunStore } from "../runs/store.js";
import { HttpError, readBody } from "./http.js";

export const MAX_BODY_BYTES = 64 * 1024;
const FIRE_PATH = /^\/api\/v1\/routines\/([^/?]+)\/fire\/?(?:\?.*)?$/;
/** How long a retry waits for the fire that holds its key before answering 409. */
const IN_PROGRESS_WAIT_MS = 30_000;
const IN_PROGRESS_POLL_MS = 50;

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FireApiDeps {
  store: RunStore;
  admission: Admission;
  routines: RoutinesCache;
  /** The installation's client for a repository; undefined when the app is not installed there. */
  installationFor: InstallationFor;
  runUrl(runId: string): string;
  /** Fires allowed per token per minute. */
  firesPerMinute: number;
  now?: () => number;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers }).end(JSON.stringify(body));
}

function parseText(body: string): string | undefined {
  if (body.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'the body is not JSON; send {"text": "..."} or nothing');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object such as {"text": "..."}');
  const text = (parsed as { text?: unknown }).text;
  if (text !== undefined && typeof text !== "string") throw new HttpError(400, '"text" must be a string');
  return text === undefined || text === "" ? undefined : text;
}

/**
 * The Idempotency-Key header's key, or undefined without the header. Taken as sent, or from inside
 * the quotes of the draft standard's quoted-string form.
 */
function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers["idempotency-key"];
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(", ") : header).trim();
  const key = /^"(.*)"$/.exec(value)?.[1] ?? value;
  if (key === "") throw new HttpError(400, "the Idempotency-Key header is empty; send a unique key (a UUID, say) or no header");
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw new HttpError(400, `the Idempotency-Key header is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  return key;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function fireApiHandler(deps: FireApiDeps) {
  const recentFires = new Map<string, number[]>();
  const now = deps.now ?? Date.now;

  /** Sliding one-minute window per token. */
  const rateLimit = (triggerId: string) => {
    const since = now() - 60_000;
    const fires = (recentFires.get(triggerId) ?? []).filter((at) => at > since);
    if (fires.length >= deps.firesPerMinute) {
      const retryAfter = Math.max(1, Math.ceil((fires[0]! - since) / 1000));
      throw new HttpError(429, `more than ${deps.firesPerMinute} fires per minute for this token`, { "retry-after": String(retryAfter) });
    }
    fires.push(now());
    recentFires.set(triggerId, fires);
  };

  const fire = async (req: IncomingMessage, triggerId: string): Promise<Answer> => {
    if (req.method !== "POST") throw new HttpError(405, "use POST", { allow: "POST" });
    const token = await deps.store.getApiToken(triggerId);
    if (!token) throw new HttpError(404, `no api trigger ${triggerId}`);
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    // Revoked and wrong tokens get the same answer as a missing one, after the same work.
    if (!tokenMatches(presented, token.tokenHash) || token.revokedAt) throw new HttpError(401, "missing or invalid bearer token", { "www-authenticate": "Bearer" });
    const key = idempotencyKeyOf(req);
    if (key === undefined) {
      rateLimit(triggerId);
      return start(token, parseText(await readBody(req, MAX_BODY_BYTES)));
    }
    const text = parseText(await readBody(req, MAX_BODY_BYTES));
    // A replay starts nothing, so only a fire that goes on to start a run counts against the rate.
    return idempotently(hashIdempotencyKey(triggerId, key), fingerprintOf({ text: text ?? null }), () => {
      rateLimit(triggerId);
      return start(token, text);
    });
  };

  /**
   * Runs `startRun` once per key: a retry with the same key and request gets the answer of the fire
   * that started a run, or waits while that fire is being processed. A fire that started no run
   * (an error, a cap) frees the key, so a retry may try again.
   */
  const idempotently = async (keyHash: string, fingerprint: string, startRun: () => Promise<Answer>): Promise<Answer> => {
    const giveUpAt = performance.now() + IN_PROGRESS_WAIT_MS;
    for (;;) {
      const earlier = await deps.store.claimIdempotencyKey({ keyHash, fingerprint, claimedAt: new Date(now()) });
      if (!earlier) break;
      if (earlier.fingerprint !== fingerprint) throw new HttpError(422, "this Idempotency-Key was sent before with a different body; use a new key for a new request");
      if (earlier.answer) return { status: earlier.answer.status, body: JSON.parse(earlier.answer.body), headers: { "idempotent-replayed": "true" } };
      if (performance.now() >= giveUpAt) throw new HttpError(409, "a fire with this Idempotency-Key is still being processed; retry shortly", { "retry-after": "1" });
      await sleep(IN_PROGRESS_POLL_MS);
    }
    let answer: Answer;
    try {
      answer = await startRun();
    } catch (error) {
      await deps.store.releaseIdempotencyKey(keyHash);
      throw error;
    }
    if (answer.status === 200) await deps.store.answerIdempotencyKey(keyHash, { status: answer.status, body: JSON.stringify(answer.body) });
    else await deps.store.releaseIdempotencyKey(keyHash);
    return answer;
  };

  const start = async ({ repository, routine, triggerId }: ApiToken, text: string | undefined): Promise<Answer> => {
    const where = `${repository.owner}/${repository.repo}`;
    const installation = await deps.installationFor(repository);
    if (!installation) throw new HttpError(409, `the app is not installed on ${where}`);
    const config = await deps.routines.load(installation.octokit, repository);
    const index = config.found ? (config.routines[routine]?.triggers ?? []).findIndex((trigger) => "api" in trigger) : -1;
    if (!config.found || index < 0) {
      throw new HttpError(409, `routine ${routine} in ${where} has no api trigger on the default branch (or has errors: see routines validate)`);
    }
    const result = await deps.admission.admit({
      routine,
      repository,
      installationId: installation.installationId,
      configSha: config.sha,
      trigger: { kind: "api", index, triggerId },
      context: {
        ...(text === undefined ? {} : { extraInstructions: text }),
        withoutSecrets: false,
        ...routineFacts(config.routines[routine], config.environments, false),
      },
    });
    if (result.status === "rejected") {
      const status = result.reason.startsWith("routines are disabled") ? 403 : 429;
      return { status, body: { error: result.reason, run_id: result.run.id } };
    }
    const runId = result.status === "queued" ? result.run.id : result.runId;
    return { status: 200, body: { run_id: runId, run_url: deps.runUrl(runId) } };
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const match = FIRE_PATH.exec(req.url ?? "");
    if (!match) return false;
    try {
      const { status, body, headers } = await fire(req, decodeURIComponent(match[1]!));
      send(res, status, body, headers);
    } catch (error) {
      if (error instanceof HttpError) send(res, error.status, { error: error.message }, error.headers);
      else send(res, 502, { error: `could not start the run: ${(error as Error).message}` });
    }
    return true;
  };
}
