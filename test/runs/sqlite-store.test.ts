import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";

const request = (deliveryId: string, routine = "review"): RunRequest => ({
  routine,
  repository: { owner: "acme", repo: "app" },
  installationId: 7,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId, sender: "octocat" },
  context: { withoutSecrets: false },
});

describe("SqliteStore", () => {
  it("keeps runs in a file that a second store opens", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "nested", "routines.db");
    const first = new SqliteStore(file);
    const result = await new StoreAdmission(first, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 5, hourlyRunsPerInstallation: 5 }).admit(request("d-1"));
    await first.close();

    const second = new SqliteStore(file);
    expect(result.status).toBe("queued");
    expect(await second.getRun(result.status === "queued" ? result.run.id : "")).toEqual(result.status === "queued" ? result.run : undefined);
    await second.close();
  });

  it("refuses a database from a newer server", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const db = new Database(file);
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteStore(file)).toThrow(/^the database is at schema version 99, newer than this server's \d+; upgrade the server$/);
  });
});

describe("StoreAdmission", () => {
  it("records each routine of a delivery once, and counts only runs that were not rejected", async () => {
    let now = new Date("2026-11-24T10:00:00Z");
    const store = new SqliteStore(":memory:");
    const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 1, hourlyRunsPerInstallation: 10 }, { clock: () => now });
    expect((await admission.admit(request("d-1"))).status).toBe("queued");
    expect((await admission.admit(request("d-1", "lint"))).status).toBe("queued");
    expect((await admission.admit(request("d-1"))).status).toBe("duplicate");
    expect((await admission.admit(request("d-2"))).status).toBe("rejected");
    expect((await admission.admit(request("d-3"))).status).toBe("rejected");

    // An hour later the window has moved on.
    now = new Date("2026-11-24T11:00:01Z");
    expect((await admission.admit(request("d-4"))).status).toBe("queued");
  });

  it("does not cap runs that webhooks did not start", async () => {
    const admission = new StoreAdmission(new SqliteStore(":memory:"), { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 0, hourlyRunsPerInstallation: 0 });
    const scheduled = (scheduledFor: string): RunRequest => ({ ...request("x"), trigger: { kind: "schedule", index: 0, scheduledFor, oneOff: false } });
    expect((await admission.admit(scheduled("2026-11-24T10:00:00.000Z"))).status).toBe("queued");
    expect((await admission.admit(scheduled("2026-11-24T11:00:00.000Z"))).status).toBe("queued");
    // The same minute twice is one run.
    expect((await admission.admit(scheduled("2026-11-24T11:00:00.000Z"))).status).toBe("duplicate");
  });

  it("opens a database of the first schema version and adds what later versions keep", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const db = new Database(file);
    db.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)");
    db.pragma("user_version = 1");
    db.close();
    const store = new SqliteStore(file);
    const now = new Date();
    await store.createSession({ idHash: "h", data: "{}", createdAt: now, expiresAt: new Date(now.getTime() + 1000) });
    expect(await store.getSession("h", now)).toMatchObject({ data: "{}" });
    await store.close();
  });

  it("adds up each run's cost as its model calls come (schema version 9), and sums a routine's runs since a time", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const limits = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 50, hourlyRunsPerInstallation: 50 };
    const clock = { now: new Date("2026-11-24T10:00:00Z") };
    let store = new SqliteStore(file);
    const admit = async (id: string, routine = "review") => {
      const result = await new StoreAdmission(store, limits, { clock: () => clock.now }).admit(request(id, routine));
      if (result.status !== "queued") throw new Error(result.status);
      return result.run.id;
    };
    const old = await admit("d-old");
    await store.close();
    // A database from before version 9: no cost column (nor what later versions add).
    const db = new Database(file);
    db.exec("ALTER TABLE runs DROP COLUMN cost_usd");
    db.exec("DROP TABLE status_comments");
    db.pragma("user_version = 8");
    db.close();
    store = new SqliteStore(file);
    expect((await store.getRun(old))!.costUsd).toBeUndefined();
    await store.addRunCost(old, 0.25);
    await store.addRunCost(old, 0.5);
    expect((await store.getRun(old))!.costUsd).toBe(0.75);

    clock.now = new Date("2026-11-25T09:00:00Z");
    const recent = await admit("d-new");
    const other = await admit("d-new", "lint");
    await store.addRunCost(recent, 1.5);
    await store.addRunCost(other, 9);
    const repository = { owner: "acme", repo: "app" };
    expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T09:00:00Z") })).toEqual({ costUsd: 2.25, exhausted: false });
    expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T10:00:01Z") })).toEqual({ costUsd: 1.5, exhausted: false });
    expect(await store.routineSpend({ repository: { owner: "acme", repo: "web" }, routine: "review", since: new Date(0) })).toEqual({ costUsd: 0, exhausted: false });
    // A run stopped for want of what was left of the daily budget marks it spent.
    await store.transition(recent, ["queued"], { status: "completed", stopReason: "daily_budget" });
    expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T10:00:01Z") })).toEqual({ costUsd: 1.5, exhausted: true });
    expect(await store.routineSpend({ repository, routine: "lint", since: new Date(0) })).toEqual({ costUsd: 9, exhausted: false });
    expect((await store.listRuns({ limit: 10 })).map((run) => run.costUsd).sort()).toEqual([0.75, 1.5, 9]);
    await store.close();
  });

  it("keeps sessions until they expire or are deleted", async () => {
    const store = new SqliteStore(":memory:");
    const at = new Date(Date.UTC(2026, 0, 1));
    const later = (ms: number) => new Date(at.getTime() + ms);
    await store.createSession({ idHash: "a", data: '{"who":"a"}', createdAt: at, expiresAt: later(1000) });
    await store.createSession({ idHash: "b", data: '{"who":"b"}', createdAt: at, expiresAt: later(5000) });
    expect((await store.getSession("a", later(999)))?.data).toBe('{"who":"a"}');
    expect(await store.getSession("a", later(1000))).toBeUndefined();
    await store.deleteSession("b");
    expect(await store.getSession("b", at)).toBeUndefined();
  });

  it("lists runs by repository, trigger kind, status and outcome, a page at a time", async () => {
    const store = new SqliteStore(":memory:");
    const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 100 });
    for (let i = 0; i < 5; i++) await admission.admit(request(`d-${i}`));
    await admission.admit({ ...request("m"), repository: { owner: "acme", repo: "docs" }, trigger: { kind: "manual", user: "alice" } });
    const all = await store.listRuns({ limit: 100 });
    expect(all).toHaveLength(6);
    expect(await store.listRuns({ limit: 100, repositories: [] })).toEqual([]);
    expect((await store.listRuns({ limit: 100, repositories: [{ owner: "acme", repo: "docs" }] })).map((run) => run.trigger.kind)).toEqual(["manual"]);
    expect(await store.listRuns({ limit: 100, triggerKind: "manual" })).toHaveLength(1);
    await store.transition(all[1]!.id, ["queued"], { status: "completed", outcome: "failed" });
    expect((await store.listRuns({ limit: 100, outcome: "failed" })).map((run) => run.id)).toEqual([all[1]!.id]);
    const page = await store.listRuns({ limit: 2, before: all[1]!.id });
    expect(page.map((run) => run.id)).toEqual([all[2]!.id, all[3]!.id]);
  });
});

describe("SqliteStore.recordDelivery", () => {
  it("names the earlier delivery of the same body under another id, within the window", async () => {
    const store = new SqliteStore(":memory:");
    const at = new Date("2026-11-24T12:00:00Z");
    const hour = 3_600_000;
    expect(await store.recordDelivery("hash-a", "d-1", at, hour)).toBeUndefined();
    expect(await store.recordDelivery("hash-a", "d-1", at, hour)).toBeUndefined();
    expect(await store.recordDelivery("hash-a", "d-2", new Date(at.getTime() + hour / 2), hour)).toBe("d-1");
    expect(await store.recordDelivery("hash-b", "d-3", at, hour)).toBeUndefined();
    // Past the window the body is forgotten.
    expect(await store.recordDelivery("hash-a", "d-4", new Date(at.getTime() + 2 * hour), hour)).toBeUndefined();
    await store.close();
  });
});

describe("SqliteStore inbox", () => {
  const at = new Date("2026-11-24T12:00:00Z");
  const entry = (id: string, orderingKey?: string) => ({ id, name: "pull_request", body: `{"id":"${id}"}`, ...(orderingKey ? { orderingKey } : {}), receivedAt: at });

  it("keeps each delivery id once and lists pending deliveries in order of arrival", async () => {
    const store = new SqliteStore(":memory:");
    expect(await store.enqueueDelivery(entry("b", "acme/app#1"))).toBe(true);
    expect(await store.enqueueDelivery(entry("a"))).toBe(true);
    expect(await store.enqueueDelivery({ ...entry("b"), body: "{}" })).toBe(false);
    expect(await store.pendingDeliveries(10)).toEqual([
      { id: "b", orderingKey: "acme/app#1", attempts: 0 },
      { id: "a", attempts: 0 },
    ]);
    expect(await store.pendingDeliveries(1)).toHaveLength(1);
    expect((await store.getDelivery("b"))?.body).toBe('{"id":"b"}');
    await store.close();
  });

  it("counts attempts, and starts only pending deliveries", async () => {
    const store = new SqliteStore(":memory:");
    await store.enqueueDelivery(entry("a"));
    expect(await store.startDelivery("a")).toMatchObject({ id: "a", name: "pull_request", body: '{"id":"a"}', attempts: 1, state: "pending", receivedAt: at });
    expect((await store.startDelivery("a"))?.attempts).toBe(2);
    await store.finishDelivery("a", at);
    expect(await store.startDelivery("a")).toBeUndefined();
    expect(await store.startDelivery("unknown")).toBeUndefined();
    expect(await store.pendingDeliveries(10)).toEqual([]);
    expect(await store.getDelivery("a")).toMatchObject({ state: "done", attempts: 2 });
    await store.close();
  });

  it("records a failure with its error, once", async () => {
    const store = new SqliteStore(":memory:");
    await store.enqueueDelivery(entry("a"));
    await store.finishDelivery("a", at, "GitHub answered 502");
    await store.finishDelivery("a", at);
    expect(await store.getDelivery("a")).toMatchObject({ state: "failed", error: "GitHub answered 502" });
    await store.close();
  });

  it("prunes finished deliveries before the time, never pending ones", async () => {
    const store = new SqliteStore(":memory:");
    for (const id of ["old", "new", "waiting"]) await store.enqueueDelivery(entry(id));
    await store.finishDelivery("old", at, "failed");
    await store.finishDelivery("new", new Date(at.getTime() + 1_000));
    expect(await store.pruneDeliveries(new Date(at.getTime() + 1))).toBe(1);
    expect(await store.getDelivery("old")).toBeUndefined();
    expect(await store.getDelivery("new")).toBeDefined();
    expect(await store.pruneDeliveries(new Date(at.getTime() + 10_000))).toBe(1);
    expect((await store.pendingDeliveries(10)).map((row) => row.id)).toEqual(["waiting"]);
    // A pruned id is new again: the runs it started are still deduplicated by admission.
    expect(await store.enqueueDelivery(entry("old"))).toBe(true);
    await store.close();
  });
});

describe("SqliteStore idempotency keys", () => {
  const hour = 60 * 60 * 1000;
  const at = new Date("2026-11-24T10:00:00Z");
  const later = (ms: number) => new Date(at.getTime() + ms);

  it("claims a key once, names the earlier claim and its answer, and forgets the key after 24 hours", async () => {
    const store = new SqliteStore(":memory:");
    expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: at })).toBeUndefined();
    expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "g", claimedAt: later(1) })).toEqual({ keyHash: "k", fingerprint: "f", claimedAt: at });
    await store.answerIdempotencyKey("k", { status: 200, body: '{"run_id":"run_1"}' });
    // A release after the answer leaves the answer alone.
    await store.releaseIdempotencyKey("k");
    expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: later(23 * hour) })).toEqual({
      keyHash: "k",
      fingerprint: "f",
      claimedAt: at,
      answer: { status: 200, body: '{"run_id":"run_1"}' },
    });
    expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: later(24 * hour) })).toBeUndefined();
    await store.close();
  });

  it("frees a released claim at once, and an unanswered one after five minutes (its process died)", async () => {
    const store = new SqliteStore(":memory:");
    await store.claimIdempotencyKey({ keyHash: "released", fingerprint: "f", claimedAt: at });
    await store.releaseIdempotencyKey("released");
    expect(await store.claimIdempotencyKey({ keyHash: "released", fingerprint: "f", claimedAt: later(1) })).toBeUndefined();

    await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: at });
    expect(await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: later(4 * 60_000) })).toMatchObject({ fingerprint: "f" });
    expect(await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: later(5 * 60_000) })).toBeUndefined();
    await store.close();
  });
});
