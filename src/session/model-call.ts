// One call to the Messages API, streamed and retried. Streamed because the API requires it for
// replies that may take long (large max_tokens); retried here, not in the SDK, so that waits follow
// one time budget, honour retry-after, end when the run is cancelled and show in the transcript.
import { setTimeout as sleep } from "node:timers/promises";
import Anthropic, { AnthropicError, APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { formatDuration } from "../config/duration.js";
import { ModelNameError } from "../config/model-names.js";
import { ROUTE_WORDS, routeOf, type RouteWords } from "./model-route.js";

export interface RetryPolicy {
  /** How long one call may keep retrying, counted from its first failure, in milliseconds; 0 never retries. */
  budgetMs: number;
  /** The first wait; each retry doubles it (up to 32 times), with jitter. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 60_000, baseDelayMs: 1_000 };

export interface RetryNotice {
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The HTTP status, when the API answered. */
  status?: number;
  /** The API's id of the failed request (its request-id header), to quote to the provider. */
  requestId?: string;
  error: string;
  waitMs: number;
}

export interface ModelCallOptions {
  signal: AbortSignal;
  retry: RetryPolicy;
  onRetry(notice: RetryNotice): Promise<void>;
  /** Headers besides the client's own (a beta the request uses). */
  headers?: Record<string, string>;
}

/** A model call that failed for good; the message says what to check. */
export class ModelCallError extends Error {
  override name = "ModelCallError";
  constructor(
    message: string,
    readonly status?: number,
    /** The API's id of the failed request, when it answered with one. */
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export type ModelParams = Omit<Anthropic.MessageCreateParamsNonStreaming, "stream">;

export async function callModel(client: Anthropic, params: ModelParams, options: ModelCallOptions): Promise<Anthropic.Message> {
  const { signal, retry } = options;
  let giveUpAt: number | undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      // maxRetries 0: whatever the client was built with, this loop is the only one retrying.
      return await client.messages.stream(params, { signal, maxRetries: 0, ...(options.headers ? { headers: options.headers } : {}) }).finalMessage();
    } catch (error) {
      if (signal.aborted || error instanceof APIUserAbortError) throw error;
      const status = error instanceof APIError ? error.status : undefined;
      const requestId = (error instanceof APIError && error.requestID) || undefined;
      if (!retryable(error)) throw new ModelCallError(refusedDetail(error, params.model, ROUTE_WORDS[routeOf(client)]), status, requestId);
      giveUpAt ??= Date.now() + retry.budgetMs;
      const remaining = giveUpAt - Date.now();
      if (remaining <= 0) {
        const retried = retry.budgetMs > 0 ? ` after ${formatDuration(retry.budgetMs)} of retries` : "";
        throw new ModelCallError(`the model API was still failing${retried}: ${describe(error)}`, status, requestId);
      }
      const waitMs = Math.round(Math.min(remaining, retryAfter(error) ?? backoff(retry.baseDelayMs, attempt)));
      await options.onRetry({ attempt, ...(status === undefined ? {} : { status }), ...(requestId ? { requestId } : {}), error: describe(error), waitMs });
      await sleep(waitMs, undefined, { signal });
    }
  }
}

/** Overload (529), rate limits (429), server errors, and connections that failed or broke mid-reply. */
function retryable(error: unknown): boolean {
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIError) {
    // An error event inside a stream has no status, only the type.
    if (error.status === undefined) return error.type === "overloaded_error" || error.type === "api_error" || error.type === "rate_limit_error";
    return error.status === 429 || error.status >= 500;
  }
  // A socket that closed mid-reply is fetch's TypeError "terminated", which the stream wraps in a plain AnthropicError.
  return error instanceof AnthropicError && error.cause instanceof TypeError && error.cause.message === "terminated";
}

/** "529 overloaded_error: Overloaded", from what the API said. */
function describe(error: unknown): string {
  if (error instanceof APIError && error.apiMessage) return [error.status, error.type ? `${error.type}:` : undefined, error.apiMessage].filter(Boolean).join(" ");
  return error instanceof Error ? error.message : String(error);
}

/** Why the API refused the request as it is, and what to check: the settings of the route the client takes. */
function refusedDetail(error: unknown, model: string, route: RouteWords): string {
  // The route could not place the model's name: nothing was sent, and the message says what to use.
  // (The stream wraps what the client threw in an AnthropicError, as its cause.)
  const unplaced = error instanceof ModelNameError ? error : error instanceof AnthropicError && error.cause instanceof ModelNameError ? error.cause : undefined;
  if (unplaced) return `${unplaced.message} (the routine's model, or ROUTINES_MODEL)`;
  const said = describe(error);
  switch (error instanceof APIError ? error.status : undefined) {
    case 401:
      return `${route.api} refused ${route.refused} (${said}): check ${route.check}`;
    case 403:
      return `${route.api} denied access (${said}): check that ${route.holder} may use the model ${model}`;
    case 404:
      return `${route.api} does not know the model ${model} (${said}): check the routine's model or ROUTINES_MODEL, and ${route.endpoint}`;
    case undefined:
      return `the model call failed: ${said}`;
    default:
      return `${route.api} rejected the request (${said})`;
  }
}

/** The wait the API asked for, from retry-after-ms or retry-after (seconds or a date). */
function retryAfter(error: unknown): number | undefined {
  if (!(error instanceof APIError) || !error.headers) return undefined;
  const ms = Number.parseFloat(error.headers.get("retry-after-ms") ?? "");
  if (ms >= 0) return ms;
  const header = error.headers.get("retry-after");
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  const wait = Number.isNaN(seconds) ? Date.parse(header) - Date.now() : seconds * 1000;
  return wait >= 0 ? wait : undefined;
}

/** Exponential backoff with jitter, so parallel sessions do not retry in step. */
const backoff = (baseMs: number, attempt: number) => baseMs * 2 ** Math.min(attempt - 1, 5) * (0.5 + Math.random() / 2);
