import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { createNodeMiddleware } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { RunRequest } from "../../src/run-request.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import { Metrics } from "../../src/web/metrics.js";
import { testSettings } from "../support/app.js";
import { testProbot } from "../support/github.js";

const request = (n: number): RunRequest => ({
  routine: "review",
  repository: { owner: "acme", repo: "app" },
  installationId: 1,
  configSha: "sha",
  trigger: { kind: "api", index: 0, triggerId: `trg_${n}` },
  context: { withoutSecrets: false },
});

describe("/metrics and /healthz", () => {
  let server: Server;
  let base: string;
  let store: SqliteStore;
  let metrics: Metrics;

  beforeEach(async () => {
    store = new SqliteStore(":memory:");
    metrics = new Metrics(store);
    const middleware = await createNodeMiddleware(createApp({ settings: testSettings, store, admission: new StoreAdmission(store, testSettings), metrics }), { probot: testProbot() });
    server = createServer((req, res) => void middleware(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("answers /healthz while the store can be read, and 503 when it cannot", async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    await store.close();
    const down = await fetch(`${base}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "unavailable" });
  });

  it("counts runs by status and outcome, the queue, tokens, run time, model errors and the rate limit", async () => {
    const admission = new StoreAdmission(store, testSettings);
    await admission.admit(request(1));
    const second = await admission.admit(request(2));
    const id = second.status === "queued" ? second.run.id : "";
    const started = new Date(Date.now() - 42_000);
    await store.transition(id, ["queued"], { status: "running", startedAt: started });
    await store.transition(id, ["running"], { status: "completed", outcome: "succeeded", finishedAt: new Date(), usage: { inputTokens: 5, cacheReadTokens: 900, cacheWriteTokens: 100, outputTokens: 30 } });
    await store.addRunCost(id, 0.75);
    await metrics.observer.finished!((await store.getRun(id))!);
    metrics.transcriptEvent(id, { seq: 9, at: new Date(), kind: "session_end", data: { stopReason: "model_error" } });
    metrics.rateLimitRemaining(4321);
    metrics.webhookReceived("pull_request");
    metrics.webhookMatched("pull_request");

    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('routines_runs{status="queued",outcome="none"} 1');
    expect(text).toContain('routines_runs{status="completed",outcome="succeeded"} 1');
    expect(text).toContain("routines_queue_depth 1");
    expect(text).toContain('routines_tokens_total{kind="cache_read"} 900');
    expect(text).toContain('routines_run_duration_seconds_bucket{le="60",status="completed"} 1');
    expect(text).toContain("routines_model_errors_total 1");
    expect(text).toContain('routines_cost_usd_total{repository="acme/app",routine="review"} 0.75');
    expect(text).toContain("routines_github_rate_limit_remaining 4321");
    expect(text).toContain('routines_webhooks_received_total{event="pull_request"} 1');
    expect(text).toContain('routines_webhooks_matched_total{event="pull_request"} 1');
  });

  it("counts the deliveries waiting in the inbox and those that gave up", async () => {
    const receivedAt = new Date();
    for (const id of ["a", "b", "c", "d"]) await store.enqueueDelivery({ id, name: "pull_request", body: "{}", receivedAt });
    await store.finishDelivery("a", new Date());
    await store.finishDelivery("b", new Date(), "failed");
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('routines_inbox_deliveries{state="pending"} 2');
    expect(text).toContain('routines_inbox_deliveries{state="failed"} 1');
    expect(text).not.toContain('routines_inbox_deliveries{state="done"}');
  });
});
