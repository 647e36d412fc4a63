// POST /api/v1/routines/<trigger-id>/fire: starts a run of a routine with an api trigger.
// Answers: 200 with the run, 400 bad body, 401 missing or wrong token (one answer for both),
// 404 unknown trigger, 405 wrong method, 409 routine without an api trigger, 413 body over 64 KiB,
// 429 per-token rate or a run cap, 403 routines disabled, 502 GitHub unreachable.
import type { IncomingMessage, ServerResponse } from "node:http";
import { requiredSecrets } from "../config/environment-of.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import type { InstallationFor } from "../github/installation-client.js";
import type { Admission } from "../runs/admission.js";
import { tokenMatches } from "../runs/api-tokens.js";
import type { RunStore } from "../runs/store.js";
import { HttpError, readBody } from "./http.js";

export const MAX_BODY_BYTES = 64 * 1024;
const FIRE_PATH = /^\/api\/v1\/routines\/([^/?]+)\/fire\/?(?:\?.*)?$/;

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

  const fire = async (req: IncomingMessage, triggerId: string) => {
    if (req.method !== "POST") throw new HttpError(405, "use POST", { allow: "POST" });
    const token = await deps.store.getApiToken(triggerId);
    if (!token) throw new HttpError(404, `no api trigger ${triggerId}`);
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    // Revoked and wrong tokens get the same answer as a missing one, after the same work.
    if (!tokenMatches(presented, token.tokenHash) || token.revokedAt) throw new HttpError(401, "missing or invalid bearer token", { "www-authenticate": "Bearer" });
    rateLimit(triggerId);
    const text = parseText(await readBody(req, MAX_BODY_BYTES));

    const { repository, routine } = token;
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
        requiredSecrets: requiredSecrets(config.routines[routine], config.environments, false),
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
      const { status, body } = await fire(req, decodeURIComponent(match[1]!));
      send(res, status, body);
    } catch (error) {
      if (error instanceof HttpError) send(res, error.status, { error: error.message }, error.headers);
      else send(res, 502, { error: `could not start the run: ${(error as Error).message}` });
    }
    return true;
  };
}
