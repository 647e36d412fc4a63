import { afterEach, expect, it } from "vitest";
import { CheckOutbox, isTransient, type CheckRunsApi } from "../../src/github/check-outbox.js";
import type { CheckEntry, CheckState, PendingCheck, RunStore } from "../../src/runs/store.js";
import { describeEachStore } from "../support/stores.js";

const state = (status: CheckState["status"], title = status): CheckState => ({ status, external_id: "run_1", output: { title, summary: "" } });
const entry = (fields: Partial<CheckEntry> = {}): CheckEntry => ({
  key: "run:run_1",
  runId: "run_1",
  installationId: 1,
  repository: { owner: "acme", repo: "app" },
  headSha: "abc",
  name: "routines/review",
  priority: 0,
  version: 1,
  state: state("queued"),
  ...fields,
});

/** GitHub's check runs as the outbox sees them: each write recorded, answers controllable. */
class FakeChecks implements CheckRunsApi {
  readonly writes: Array<{ kind: "create" | "update"; key: string; id: number; version: number; status: string }> = [];
  readonly checks = new Map<number, { key: string; external_id: string; name: string; history: string[] }>();
  /** Errors to throw, one per coming write. */
  readonly failures: unknown[] = [];
  /** Held writes wait for this before they answer. */
  hold: Promise<void> | undefined;
  #next = 100;

  async create(check: PendingCheck): Promise<number> {
    await this.#answer();
    const id = this.#next++;
    this.checks.set(id, { key: check.key, external_id: check.state.external_id, name: check.name, history: [check.state.status] });
    this.writes.push({ kind: "create", key: check.key, id, version: check.version, status: check.state.status });
    return id;
  }

  async update(check: PendingCheck, id: number): Promise<void> {
    await this.#answer();
    this.checks.get(id)!.history.push(check.state.status);
    this.writes.push({ kind: "update", key: check.key, id, version: check.version, status: check.state.status });
  }

  async find(check: PendingCheck): Promise<number | undefined> {
    return [...this.checks].find(([, c]) => c.name === check.name && c.external_id === check.state.external_id)?.[0];
  }

  async #answer(): Promise<void> {
    await this.hold;
    const failure = this.failures.shift();
    if (failure) throw failure;
  }
}

const outboxes: CheckOutbox[] = [];
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
});

function start(store: RunStore, api: CheckRunsApi, errors: unknown[] = []) {
  const outbox = new CheckOutbox(store, api, { pollMs: 20, backoffMs: () => 30, onError: (error) => errors.push(error) });
  outboxes.push(outbox);
  outbox.start();
  return outbox;
}

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

describeEachStore("the check-run outbox in the store", ({ fresh, freshPlace }) => {
  it("keeps only the newest state of a check, and refuses an older or equal version", async () => {
    const store = await fresh();
    expect(await store.recordCheck(entry({ version: 2, state: state("in_progress") }))).toBe(true);
    expect(await store.recordCheck(entry({ version: 1, state: state("queued") }))).toBe(false);
    expect(await store.recordCheck(entry({ version: 2, state: state("queued") }))).toBe(false);
    const [pending] = await store.pendingChecks(new Date(), 10);
    expect(pending).toMatchObject({ key: "run:run_1", version: 2, state: { status: "in_progress" }, creating: false, attempts: 0 });
    expect(pending?.checkRunId).toBeUndefined();
  });

  it("counts up a check whose version is 'next', and holds nothing published as pending", async () => {
    const store = await fresh();
    const summary = entry({ key: "not-started:x", runId: undefined, priority: 1, version: "next", state: state("completed") });
    await store.recordCheck(summary);
    await store.recordCheck(summary);
    expect((await store.pendingChecks(new Date(), 10)).map((check) => check.version)).toEqual([2]);
    await store.markCheckPublished("not-started:x", 2, 7);
    expect(await store.pendingChecks(new Date(), 10)).toEqual([]);
    await store.recordCheck(summary);
    expect(await store.pendingChecks(new Date(), 10)).toMatchObject([{ version: 3, checkRunId: 7 }]);
  });

  it("puts runs' own checks before summaries, and holds a failed one back until its retry is due", async () => {
    const store = await fresh();
    await store.recordCheck(entry({ key: "not-started:x", priority: 1 }));
    await store.recordCheck(entry({ key: "run:a" }));
    await store.recordCheck(entry({ key: "run:b" }));
    const now = new Date();
    await store.markCheckFailed("run:a", new Date(now.getTime() + 1_000));
    expect((await store.pendingChecks(now, 10)).map((check) => check.key)).toEqual(["run:b", "not-started:x"]);
    expect((await store.pendingChecks(new Date(now.getTime() + 1_000), 10)).map((check) => [check.key, check.attempts])).toEqual([["run:b", 0], ["run:a", 1], ["not-started:x", 0]]);
  });

  it("records the check run's id on the run", async () => {
    const store = await fresh();
    await store.insertRun({ id: "run_1", routine: "review", repository: { owner: "acme", repo: "app" }, installationId: 1, configSha: "s", trigger: { kind: "api", triggerId: "t" }, context: { withoutSecrets: false }, status: "queued", createdAt: new Date() } as never);
    await store.recordCheck(entry());
    await store.markCheckPublished("run:run_1", 1, 42);
    expect((await store.getRun("run_1"))?.checkRunId).toBe(42);
  });
});

describeEachStore("the check-run publisher", ({ fresh, freshPlace }) => {
  it("creates a check, then updates it, in the order of its states", async () => {
    const store = await fresh();
    const api = new FakeChecks();
    const outbox = start(store, api);
    await store.recordCheck(entry());
    outbox.wake();
    await outbox.idle();
    await store.recordCheck(entry({ version: 2, state: state("in_progress") }));
    outbox.wake();
    await outbox.idle();
    await store.recordCheck(entry({ version: 9, state: state("completed") }));
    outbox.wake();
    await outbox.idle();
    expect(api.writes.map((write) => [write.kind, write.status, write.id])).toEqual([["create", "queued", 100], ["update", "in_progress", 100], ["update", "completed", 100]]);
  });

  it("sends only the newest of the states recorded while a write was under way, and never an older one after it", async () => {
    const store = await fresh();
    const api = new FakeChecks();
    let release!: () => void;
    api.hold = new Promise((resolve) => (release = resolve));
    const outbox = start(store, api);
    await store.recordCheck(entry());
    outbox.wake();
    // While the creation hangs, the run starts and finishes; a late "started" comes last.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.recordCheck(entry({ version: 2, state: state("in_progress") }));
    await store.recordCheck(entry({ version: 9, state: state("completed") }));
    expect(await store.recordCheck(entry({ version: 2, state: state("in_progress") }))).toBe(false);
    outbox.wake();
    release();
    await outbox.idle();
    expect(api.writes.map((write) => [write.kind, write.status])).toEqual([["create", "queued"], ["update", "completed"]]);
    expect(api.checks.size).toBe(1);
  });

  it("creates a check in its newest state when its first state was never sent", async () => {
    const store = await fresh();
    await store.recordCheck(entry());
    await store.recordCheck(entry({ version: 9, state: state("completed") }));
    const api = new FakeChecks();
    await start(store, api).idle();
    expect(api.writes.map((write) => [write.kind, write.status])).toEqual([["create", "completed"]]);
  });

  it("tries again after a 502, a rate limit or a network failure, and gives up on a refusal", async () => {
    const store = await fresh();
    const api = new FakeChecks();
    const errors: unknown[] = [];
    const rateLimited = Object.assign(httpError(403), { message: "API rate limit exceeded", response: { headers: { "x-ratelimit-remaining": "0" } } });
    api.failures.push(httpError(502), rateLimited, new TypeError("fetch failed"));
    const outbox = start(store, api, errors);
    await store.recordCheck(entry());
    outbox.wake();
    await eventually(() => api.writes.length === 1);
    expect(errors).toHaveLength(3);
    expect(api.writes).toMatchObject([{ kind: "create", status: "queued" }]);

    api.failures.push(httpError(422));
    await store.recordCheck(entry({ version: 2, state: state("in_progress") }));
    outbox.wake();
    await eventually(() => errors.length === 4);
    await outbox.idle();
    expect(await store.pendingChecks(new Date(Date.now() + 60_000), 10)).toEqual([]);
    // A later state is still sent.
    await store.recordCheck(entry({ version: 9, state: state("completed") }));
    outbox.wake();
    await eventually(() => api.writes.length === 2);
    expect(api.writes.at(-1)).toMatchObject({ kind: "update", status: "completed" });
  });

  it("tells transient failures from refusals", () => {
    expect([502, 500, 429].map((status) => isTransient(httpError(status)))).toEqual([true, true, true]);
    expect([400, 404, 422, 401].map((status) => isTransient(httpError(status)))).toEqual([false, false, false, false]);
    expect(isTransient(Object.assign(httpError(403), { message: "You have exceeded a secondary rate limit" }))).toBe(true);
    expect(isTransient(Object.assign(httpError(403), { message: "Resource not accessible by integration" }))).toBe(false);
    expect(isTransient(new TypeError("fetch failed"))).toBe(true);
  });

  it("publishes after a restart what the last process left, without creating a check a second time", async () => {
    const open = await freshPlace();
    const api = new FakeChecks();
    let store = await open();
    // The last process sent a creation and died before recording its answer.
    await store.recordCheck(entry());
    await store.markCheckCreating("run:run_1");
    await api.create({ ...(await store.pendingChecks(new Date(), 1))[0]! });
    await store.recordCheck(entry({ key: "run:run_2", runId: "run_2", state: { ...state("queued"), external_id: "run_2" } }));
    await store.recordCheck(entry({ version: 9, state: state("completed") }));
    await store.close();

    store = await open();
    await start(store, api).idle();
    const writesOf = (key: string) => api.writes.filter((write) => write.key === key).map((write) => [write.kind, write.status]);
    expect(writesOf("run:run_1")).toEqual([["create", "queued"], ["update", "completed"]]);
    expect(writesOf("run:run_2")).toEqual([["create", "queued"]]);
    expect(api.checks.get(100)?.history).toEqual(["queued", "completed"]);
  });

  it("creates each check once when two processes share the outbox", async () => {
    const open = await freshPlace();
    const [first, second] = [await open(), await open()];
    const api = new FakeChecks();
    // GitHub takes a moment to answer: time for the other process to look at the same states.
    api.hold = new Promise((resolve) => setTimeout(resolve, 50));
    const keys = Array.from({ length: 24 }, (_, i) => `run:r${i}`);
    for (const key of keys) await first.recordCheck(entry({ key, runId: undefined, state: { ...state("queued"), external_id: key } }));
    const outboxes = [start(first, api), start(second, api)];
    await eventually(() => api.writes.length >= keys.length, 20_000);
    await Promise.all(outboxes.map((outbox) => outbox.idle()));
    expect(api.writes.filter((write) => write.kind === "create").map((write) => write.key).sort()).toEqual([...keys].sort());
    expect(api.writes.filter((write) => write.kind === "update")).toEqual([]);
  });

  it("publishes what a process that died while sending held once its claim expires, without creating the check a second time", async () => {
    const store = await fresh();
    const api = new FakeChecks();
    await store.recordCheck(entry());
    // The dead process claimed the state, sent its creation, and died before recording the answer.
    const expiresAt = new Date(Date.now() + 800);
    const [held] = await store.claimChecks(new Date(), 1, { owner: "a process that died", expiresAt });
    await store.markCheckCreating("run:run_1");
    await api.create(held!);
    await store.recordCheck(entry({ version: 2, state: state("completed") }));
    start(store, api);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.writes).toHaveLength(1);
    await eventually(() => api.writes.length === 2, 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(api.writes.map((write) => [write.kind, write.status, write.id])).toEqual([["create", "queued", 100], ["update", "completed", 100]]);
  });
});

async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
