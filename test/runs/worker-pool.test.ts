import { describe, expect, it } from "vitest";
import { readSecretGrants } from "../../src/config/secret-grants.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import { describeEachStore } from "../support/stores.js";
import type { RunRecord, RunStore } from "../../src/runs/store.js";
import { WorkerPool, type ExecutionContext, type RunExecutor, type RunResult, type WorkerPoolOptions } from "../../src/runs/worker-pool.js";
import { cancelRun } from "../../src/runs/cancel-run.js";
import { RunEvents } from "../../src/runs/run-events.js";
import { LocalSignals } from "../../src/runs/signals.js";
import { createRedactor, type Redactor } from "../../src/session/redact.js";

const limits = { dailyRunsPerInstallation: 1000, hourlyRunsPerRoutine: 1000, hourlyRunsPerInstallation: 1000 };
let delivery = 0;
const request = (options: { installationId?: number; routine?: string; pr?: number } = {}): RunRequest => ({
  routine: options.routine ?? "review",
  repository: { owner: "acme", repo: "app" },
  installationId: options.installationId ?? 1,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${++delivery}`, sender: "octocat" },
  context: {
    withoutSecrets: false,
    ...(options.pr ? { pullRequest: { number: options.pr, headSha: "h", headRef: "b", baseRef: "main", title: "t", author: "a" } } : {}),
  },
});

/** An executor whose runs finish when the test says so. */
class ControlledExecutor implements RunExecutor {
  readonly started: string[] = [];
  readonly #finish = new Map<string, (result: RunResult | Error) => void>();
  maxConcurrent = 0;
  #current = 0;

  execute(run: RunRecord, context: ExecutionContext): Promise<RunResult> {
    this.started.push(run.id);
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.#current);
    return new Promise<RunResult>((resolve, reject) => {
      const settle = (result: RunResult | Error) => {
        this.#current -= 1;
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.#finish.set(run.id, settle);
      context.signal.addEventListener("abort", () => settle(new Error("aborted")));
      void context.record("started", { routine: run.routine });
    });
  }

  finish(runId: string, result: RunResult | Error = { outcome: "succeeded" }): void {
    this.#finish.get(runId)?.(result);
  }
}

const until = async (condition: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 2000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("timed out waiting");
};

function engine(store: RunStore, concurrency = 2, redact?: Redactor, more: Partial<WorkerPoolOptions> = {}) {
  const executor = new ControlledExecutor();
  const pool = new WorkerPool(store, executor, { concurrency, pollInterval: 60_000, soleProcess: true, ...(redact ? { redact } : {}), ...more });
  const admission = new StoreAdmission(store, limits, { onQueued: () => pool.wake() });
  const admit = async (options?: Parameters<typeof request>[0]) => {
    const result = await admission.admit(request(options));
    if (result.status !== "queued") throw new Error(`not queued: ${result.status}`);
    return result.run.id;
  };
  return { store, executor, pool, admission, admit };
}

describeEachStore("WorkerPool", ({ fresh, freshPlace }) => {
  it("runs queued runs to completed, with the agent's outcome, summary, usage and transcript", async () => {
    const { store, executor, pool, admit } = engine(await fresh());
    const followed: Array<[string, string]> = [];
    const stopFollowing = pool.onEvent((runId, event) => followed.push([runId, event.kind]));
    await pool.start();
    const id = await admit();
    await until(() => executor.started.includes(id));
    expect((await store.getRun(id))?.status).toBe("running");
    await until(() => followed.length > 0);
    expect(followed).toEqual([[id, "started"]]);
    stopFollowing();
    const usage = { inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 2, outputTokens: 7 };
    executor.finish(id, { outcome: "failed", summary: "Tests still fail.", usage });
    await until(async () => (await store.getRun(id))?.status === "completed");
    expect(await store.getRun(id)).toMatchObject({ status: "completed", outcome: "failed", summary: "Tests still fail.", usage, startedAt: expect.any(Date), finishedAt: expect.any(Date) });
    expect((await store.listEvents(id)).map((event) => [event.seq, event.kind, event.data])).toEqual([[1, "started", { routine: "review" }]]);
    await pool.stop();
  });

  it("records a run whose execution fails as errored, and never retries it", async () => {
    const { store, executor, pool, admit } = engine(await fresh());
    await pool.start();
    const id = await admit();
    await until(() => executor.started.includes(id));
    executor.finish(id, new Error("the model answered 529 overloaded four times"));
    await until(async () => (await store.getRun(id))?.status === "errored");
    expect(await store.getRun(id)).toMatchObject({ status: "errored", reason: "the model answered 529 overloaded four times" });
    pool.wake();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(executor.started).toEqual([id]);
    await pool.stop();
  });

  it("keeps secrets out of the reason and summary a run ends with", async () => {
    const { store, executor, pool, admit } = engine(await fresh(), 2, createRedactor(["setup-secret-value"]));
    await pool.start();
    const failed = await admit({ routine: "setup" });
    const summarised = await admit({ routine: "summary" });
    await until(() => executor.started.includes(failed) && executor.started.includes(summarised));
    executor.finish(failed, new Error("the setup script failed with exit code 1\necho setup-secret-value"));
    executor.finish(summarised, { outcome: "succeeded", summary: `Used ${Buffer.from("setup-secret-value").toString("base64")}.` });
    await until(async () => (await store.getRun(failed))?.status === "errored" && (await store.getRun(summarised))?.status === "completed");
    expect((await store.getRun(failed))?.reason).toBe("the setup script failed with exit code 1\necho [REDACTED]");
    expect((await store.getRun(summarised))?.summary).toBe("Used [REDACTED].");
    await pool.stop();
  });

  it("runs at most `concurrency` at once, and takes turns across installations", async () => {
    const { executor, pool, admit } = engine(await fresh());
    const a = [await admit({ installationId: 1 }), await admit({ installationId: 1 }), await admit({ installationId: 1 })];
    const b = await admit({ installationId: 2 });
    await pool.start();
    await until(() => executor.started.length === 2);
    expect(executor.started).toEqual([a[0], b]);
    executor.finish(a[0]!);
    await until(() => executor.started.length === 3);
    executor.finish(b);
    executor.finish(executor.started[2]!);
    await until(() => executor.started.length === 4);
    expect(executor.maxConcurrent).toBe(2);
    await pool.stop();
  });

  it("cancels queued and running runs: a running one through the signal that its cancel request was recorded", async () => {
    const signals = new LocalSignals();
    const { store, executor, pool, admit } = engine(await fresh(), 1, undefined, { signals });
    const events = new RunEvents(signals, store);
    await pool.start();
    const running = await admit({ installationId: 1 });
    const queued = await admit({ installationId: 1 });
    await until(() => executor.started.includes(running));
    expect(await cancelRun({ store, events }, queued, "cancelled by a user")).toBe(true);
    expect(await cancelRun({ store, events }, running, "cancelled by octocat")).toBe(true);
    await until(async () => (await store.getRun(running))?.status === "cancelled");
    expect(await store.getRun(running)).toMatchObject({ status: "cancelled", reason: "cancelled by octocat" });
    expect(await store.getRun(queued)).toMatchObject({ status: "cancelled", reason: "cancelled by a user" });
    // The request stays in the transcript, which the dashboard shows.
    expect((await store.listEvents(running)).map((event) => [event.kind, event.data])).toContainEqual(["cancel_requested", { reason: "cancelled by octocat" }]);
    expect(await cancelRun({ store, events }, running, "again")).toBe(false);
    expect(executor.started).toEqual([running]);
    await pool.stop();
  });

  it("honours a cancel request whose signal never came at its next lease renewal", async () => {
    // The pool hears nothing: the request reaches it only through the store.
    const { store, executor, pool, admit } = engine(await fresh(), 1, undefined, { leaseMs: 600 });
    await pool.start();
    const running = await admit();
    await until(() => executor.started.includes(running));
    expect(await cancelRun({ store, events: new RunEvents(new LocalSignals(), store) }, running, "cancelled by octocat in another process")).toBe(true);
    await until(async () => (await store.getRun(running))?.status === "cancelled");
    expect(await store.getRun(running)).toMatchObject({ status: "cancelled", reason: "cancelled by octocat in another process" });
    await pool.stop();
  });

  it("takes a run queued elsewhere as soon as the signal says so, not at its next poll", async () => {
    const signals = new LocalSignals();
    const { store, executor, pool } = engine(await fresh(), 1, undefined, { signals });
    await pool.start();
    // Admitted by another process's admission: this pool is told only through the signal.
    const result = await new StoreAdmission(store, limits, { onQueued: () => signals.publish({ type: "queued" }) }).admit(request());
    if (result.status !== "queued") throw new Error(result.status);
    await until(() => executor.started.includes(result.run.id));
    executor.finish(result.run.id);
    await pool.stop();
  });

  it("keeps one run waiting per routine and pull request: a newer one replaces it", async () => {
    const { store, executor, pool, admission, admit } = engine(await fresh());
    await pool.start();
    const first = await admit({ pr: 7 });
    await until(() => executor.started.includes(first));
    const second = await admit({ pr: 7 });
    const third = await admission.admit(request({ pr: 7 }));
    const other = await admit({ pr: 8 });
    expect(third).toMatchObject({ status: "queued", superseded: [second] });
    expect(await store.getRun(second)).toMatchObject({ status: "cancelled", reason: `superseded by ${third.status === "queued" ? third.run.id : ""}` });
    // The other pull request runs beside the first; the third waits for the first to end.
    await until(() => executor.started.includes(other));
    expect(executor.started).toHaveLength(2);
    executor.finish(first);
    await until(() => executor.started.length === 3);
    expect(executor.started[2]).toBe(third.status === "queued" ? third.run.id : "");
    await pool.stop();
  });

  it("survives a crash: queued runs stay queued; a running one that published nothing runs again once, one that published is interrupted", async () => {
    const open = await freshPlace();
    const before = engine(await open(), 2);
    await before.pool.start();
    const quiet = await before.admit({ installationId: 1 });
    const posted = await before.admit({ installationId: 2 });
    const queued = await before.admit({ installationId: 1 });
    await until(() => before.executor.started.includes(quiet) && before.executor.started.includes(posted));
    await before.store.appendEvent(posted, "tool_call", { id: "t1", name: "create_review", input: {} });
    // The process dies here: nothing is finished, the database file stays.

    const after = engine(await open(), 1);
    expect(await after.pool.start()).toEqual({ requeued: [quiet], interrupted: [posted] });
    expect(await after.store.getRun(posted)).toMatchObject({
      status: "interrupted",
      reason: "interrupted: the server stopped unexpectedly while the run was going; it had already published to GitHub, so it was not run again",
    });
    await until(() => after.executor.started.includes(quiet));
    expect(await after.store.getRun(quiet)).toMatchObject({ status: "running", attempt: 2 });
    // The executor records "started" without waiting for the store.
    await until(async () => (await after.store.listEvents(quiet)).length === 3);
    expect((await after.store.listEvents(quiet)).map((event) => event.kind)).toEqual(["started", "requeued", "started"]);
    after.executor.finish(quiet);
    await until(() => after.executor.started.includes(queued));
    after.executor.finish(queued);
    await until(async () => (await after.store.getRun(queued))?.status === "completed");
    expect(await after.store.getRun(quiet)).toMatchObject({ status: "completed", outcome: "succeeded", attempt: 2 });
    await after.pool.stop();
  });

  it("on a stop of the server, queues a running run again once, and records it as interrupted the second time", async () => {
    const open = await freshPlace();
    const first = engine(await open(), 1);
    await first.pool.start();
    const id = await first.admit();
    await until(() => first.executor.started.includes(id));
    await first.pool.stop("the server was stopped (SIGTERM)");
    expect(await first.store.getRun(id)).toMatchObject({ status: "queued", attempt: 2 });

    const second = engine(await open(), 1);
    await second.pool.start();
    await until(() => second.executor.started.includes(id));
    await second.pool.stop("the server was stopped (SIGTERM)");
    expect(await second.store.getRun(id)).toMatchObject({
      status: "interrupted",
      attempt: 2,
      reason: "interrupted: the server was stopped (SIGTERM); it was not run again (attempt 2 of 2)",
    });
  });

  it("records a session that ended on its own as it ended, when the stop came during its cleanup", async () => {
    const store = await fresh();
    let cleanedUp!: () => void;
    const executor: RunExecutor = {
      // The session has reached its outcome; what is left is cleanup (revoking the token), during which the stop arrives.
      execute: async () => {
        await new Promise<void>((resolve) => (cleanedUp = resolve));
        return { outcome: "succeeded", stopReason: "outcome_reported", summary: "done" };
      },
    };
    const pool = new WorkerPool(store, executor, { concurrency: 1, pollInterval: 60_000 });
    const admission = new StoreAdmission(store, limits, { onQueued: () => pool.wake() });
    await pool.start();
    const admitted = await admission.admit(request());
    if (admitted.status !== "queued") throw new Error(admitted.status);
    await until(() => cleanedUp !== undefined);
    const stopping = pool.stop("the server was stopped (SIGTERM)");
    cleanedUp();
    await stopping;
    expect(await store.getRun(admitted.run.id)).toMatchObject({ status: "completed", outcome: "succeeded" });
  });

  it("stops an installation's runs when its kill switch is thrown, also from another process: running ones aborted, queued ones cancelled", async () => {
    const { store, executor, pool, admit } = engine(await fresh(), 1);
    await pool.start();
    const running = await admit({ installationId: 1 });
    await until(() => executor.started.includes(running));
    const queued = await admit({ installationId: 1 });
    const other = await admit({ installationId: 2 });
    // As `routines disable` does it: in the store, telling no pool.
    await store.setInstallationDisabled(1, true);
    pool.wake();
    const reason = "routines were disabled for this installation (kill switch)";
    await until(async () => (await store.getRun(running))?.status === "cancelled");
    expect(await store.getRun(running)).toMatchObject({ status: "cancelled", reason });
    expect(await store.getRun(queued)).toMatchObject({ status: "cancelled", reason });
    await until(() => executor.started.includes(other));
    expect(executor.started).not.toContain(queued);
    executor.finish(other);
    await pool.stop();
  });

  it("records how a session stopped, and a failing model API as an error", async () => {
    const { store, executor, pool, admit } = engine(await fresh());
    await pool.start();
    const limited = await admit();
    const broken = await admit();
    await until(() => executor.started.length === 2);
    executor.finish(limited, { outcome: "unknown", stopReason: "max_turns", detail: "the session used all 3 turns" });
    executor.finish(broken, { outcome: "unknown", stopReason: "model_error", detail: "401 invalid x-api-key" });
    // Both are recorded at once, in either order on a store with several connections.
    await until(async () => (await store.getRun(broken))?.status === "errored" && (await store.getRun(limited))?.status === "completed");
    expect(await store.getRun(limited)).toMatchObject({ status: "completed", outcome: "unknown", stopReason: "max_turns", reason: "the session used all 3 turns" });
    expect(await store.getRun(broken)).toMatchObject({ status: "errored", stopReason: "model_error", reason: "the model API failed: 401 invalid x-api-key" });
    await pool.stop();
  });
});

describe("StoreAdmission", () => {
  it("starts nothing in a disabled installation, and starts again once enabled", async () => {
    const store = new SqliteStore(":memory:");
    const admission = new StoreAdmission(store, limits);
    await store.setInstallationDisabled(1, true);
    expect(await admission.admit(request())).toMatchObject({ status: "rejected", reason: "routines are disabled for this installation (kill switch)" });
    expect((await admission.admit(request({ installationId: 2 }))).status).toBe("queued");
    await store.setInstallationDisabled(1, false);
    expect((await admission.admit(request())).status).toBe("queued");
  });

  it("rejects a run whose routine needs a secret not granted to its repository, saying what the operator can set", async () => {
    const secrets = readSecretGrants({
      ROUTINES_SECRET_PRESENT: "present-value",
      ROUTINES_SECRET_PRESENT_REPOSITORIES: "acme/app",
      ROUTINES_SECRET_ELSEWHERE: "elsewhere-value",
      ROUTINES_SECRET_ELSEWHERE_REPOSITORIES: "globex/*",
    });
    const admission = new StoreAdmission(new SqliteStore(":memory:"), limits, { secrets });
    const needing = (names: string[]): RunRequest => ({ ...request(), context: { withoutSecrets: false, requiredSecrets: names } });
    expect(await admission.admit(needing(["PRESENT", "SENTRY_TOKEN"]))).toMatchObject({
      status: "rejected",
      reason: "the server has no value for secret SENTRY_TOKEN: its operator can set ROUTINES_SECRET_SENTRY_TOKEN=<value> and ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES=acme/app",
    });
    expect(await admission.admit(needing(["ELSEWHERE"]))).toMatchObject({
      status: "rejected",
      reason: expect.stringMatching(/^secret ELSEWHERE is not granted to acme\/app: its operator can add acme\/app to ROUTINES_SECRET_ELSEWHERE_REPOSITORIES /),
    });
    expect((await admission.admit(needing(["PRESENT"]))).status).toBe("queued");
  });

  it("grants no secret by default", async () => {
    const admission = new StoreAdmission(new SqliteStore(":memory:"), limits);
    const needing: RunRequest = { ...request(), context: { withoutSecrets: false, requiredSecrets: ["PRESENT"] } };
    expect(await admission.admit(needing)).toMatchObject({ status: "rejected", reason: expect.stringContaining("no value for secret PRESENT") });
  });

  it("caps runs per installation per day, one-off schedules aside", async () => {
    const store = new SqliteStore(":memory:");
    const admission = new StoreAdmission(store, { ...limits, dailyRunsPerInstallation: 2 });
    let minute = 0;
    const schedule = (oneOff: boolean): RunRequest => ({
      ...request(),
      trigger: { kind: "schedule", index: 0, scheduledFor: new Date(Date.UTC(2026, 10, 24, 9, minute++)).toISOString(), oneOff },
    });
    expect((await admission.admit(schedule(false))).status).toBe("queued");
    expect((await admission.admit(request())).status).toBe("queued");
    expect(await admission.admit(schedule(false))).toMatchObject({
      status: "rejected",
      reason: "daily cap reached: 2 runs in this installation in the last 24 hours (limit 2, ROUTINES_DAILY_RUNS_PER_INSTALLATION)",
    });
    expect((await admission.admit(schedule(true))).status).toBe("queued");
  });
});
