// /metrics in the Prometheus format and /healthz: webhooks received and matched, runs by status
// and outcome, queue depth, run duration, tokens by kind, cost by repository and routine, model errors, GitHub's rate limit.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunObserver } from "../runs/run-observer.js";
import type { RunRecord, RunStore, TranscriptEvent } from "../runs/store.js";

export class Metrics {
  readonly registry = new Registry();
  readonly #webhooks = new Counter({ name: "routines_webhooks_received_total", help: "Webhook deliveries received, by event.", labelNames: ["event"], registers: [this.registry] });
  readonly #matched = new Counter({ name: "routines_webhooks_matched_total", help: "Deliveries that started at least one run request, by event.", labelNames: ["event"], registers: [this.registry] });
  readonly #duration = new Histogram({
    name: "routines_run_duration_seconds",
    help: "Wall-clock time of finished runs, from start to end.",
    labelNames: ["status"],
    buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
    registers: [this.registry],
  });
  readonly #tokens = new Counter({ name: "routines_tokens_total", help: "Model tokens used by finished runs, by kind.", labelNames: ["kind"], registers: [this.registry] });
  readonly #cost = new Counter({ name: "routines_cost_usd_total", help: "What finished runs' model calls cost, in dollars, by repository and routine.", labelNames: ["repository", "routine"], registers: [this.registry] });
  readonly #modelErrors = new Counter({ name: "routines_model_errors_total", help: "Sessions ended by a model error that retrying did not fix.", registers: [this.registry] });
  readonly #rateLimit = new Gauge({ name: "routines_github_rate_limit_remaining", help: "Requests left in GitHub's rate limit, from the latest answer.", registers: [this.registry] });

  constructor(store: RunStore) {
    const registry = this.registry;
    new Gauge({
      name: "routines_runs",
      help: "Runs in the store, by status and outcome.",
      labelNames: ["status", "outcome"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const { status, outcome, count } of await store.countByState()) this.set({ status, outcome: outcome ?? "none" }, count);
      },
    });
    new Gauge({
      name: "routines_queue_depth",
      help: "Runs waiting for a worker.",
      registers: [registry],
      async collect() {
        const states = await store.countByState();
        this.set(states.filter((state) => state.status === "queued").reduce((sum, state) => sum + state.count, 0));
      },
    });
    new Gauge({
      name: "routines_inbox_deliveries",
      help: "Webhook deliveries in the inbox, by state: pending ones wait for their handlers, failed ones gave up.",
      labelNames: ["state"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const state of ["pending", "failed"] as const) this.set({ state }, 0);
        for (const { state, count } of await store.countDeliveries()) this.set({ state }, count);
      },
    });
    collectDefaultMetrics({ register: registry, prefix: "routines_" });
  }

  webhookReceived(event: string): void {
    this.#webhooks.inc({ event });
  }

  webhookMatched(event: string): void {
    this.#matched.inc({ event });
  }

  rateLimitRemaining(remaining: number): void {
    this.#rateLimit.set(remaining);
  }

  /** Follows transcripts for the sessions that a model error ended. */
  transcriptEvent = (_runId: string, event: TranscriptEvent): void => {
    if (event.kind === "session_end" && (event.data as { stopReason?: string }).stopReason === "model_error") this.#modelErrors.inc();
  };

  readonly observer: RunObserver = {
    finished: async (run: RunRecord) => {
      if (run.startedAt && run.finishedAt) this.#duration.observe({ status: run.status }, (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000);
      if (run.costUsd !== undefined) this.#cost.inc({ repository: `${run.repository.owner}/${run.repository.repo}`, routine: run.routine }, run.costUsd);
      if (!run.usage) return;
      this.#tokens.inc({ kind: "input" }, run.usage.inputTokens);
      this.#tokens.inc({ kind: "cache_read" }, run.usage.cacheReadTokens);
      this.#tokens.inc({ kind: "cache_write" }, run.usage.cacheWriteTokens);
      this.#tokens.inc({ kind: "output" }, run.usage.outputTokens);
    },
  };
}

/** Whether the request bears the token, compared in constant time. */
function bears(req: IncomingMessage, token: string): boolean {
  const [scheme, given = ""] = (req.headers.authorization ?? "").split(" ");
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return scheme?.toLowerCase() === "bearer" && timingSafeEqual(digest(given), digest(token));
}

/**
 * GET /metrics and GET /healthz (the process answers and the store can be read). With a token,
 * /metrics answers only requests that bear it (run counts and repository activity are not for
 * everyone who can reach the server); /healthz stays open for load balancers.
 */
export function metricsHandler(metrics: Metrics, store: RunStore, token?: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = req.url?.split("?")[0];
    if (req.method !== "GET" || (path !== "/metrics" && path !== "/healthz")) return false;
    if (path === "/metrics") {
      if (token !== undefined && !bears(req, token)) {
        res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="metrics"' }).end("/metrics needs the token of ROUTINES_METRICS_TOKEN: Authorization: Bearer <token>\n");
        return true;
      }
      res.writeHead(200, { "content-type": metrics.registry.contentType }).end(await metrics.registry.metrics());
      return true;
    }
    try {
      await store.ping();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
    } catch (error) {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ status: "unavailable", error: (error as Error).message }));
    }
    return true;
  };
}
