import { expect, it } from "vitest";
import { InboxProcessor } from "../../src/github/inbox-processor.js";
import type { ReceivedWebhook } from "../../src/github/receive-webhooks.js";
import type { RunStore } from "../../src/runs/store.js";
import { describeEachStore } from "../support/stores.js";

const at = new Date("2026-11-24T12:00:00Z");
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function inboxWith(store: RunStore, ids: Array<string | [string, string]>) {
  for (const item of ids) {
    const [id, orderingKey] = Array.isArray(item) ? item : [item, undefined];
    await store.enqueueDelivery({ id, name: "pull_request", body: JSON.stringify({ id }), ...(orderingKey ? { orderingKey } : {}), receivedAt: at });
  }
  return store;
}

const later = () => {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
};

describeEachStore("InboxProcessor", ({ fresh, freshPlace }) => {
  it("hands every pending delivery on in order of arrival and records it done", async () => {
    const store = await inboxWith(await fresh(), ["a", "b", "c"]);
    const handled: ReceivedWebhook[] = [];
    const processor = new InboxProcessor(store, { handle: async (delivery) => void handled.push(delivery), concurrency: 1, keepMs: 1_000, log: quiet });
    processor.start();
    await processor.idle();
    expect(handled).toEqual(["a", "b", "c"].map((id) => ({ id, name: "pull_request", payload: { id } })));
    for (const id of ["a", "b", "c"]) expect(await store.getDelivery(id)).toMatchObject({ state: "done", attempts: 1 });
    await processor.stop();
  });

  it("handles deliveries that arrive later when woken", async () => {
    const store = await inboxWith(await fresh(), []);
    const handled: string[] = [];
    const processor = new InboxProcessor(store, { handle: async ({ id }) => void handled.push(id), keepMs: 1_000, log: quiet });
    processor.start();
    await processor.idle();
    await store.enqueueDelivery({ id: "late", name: "push", body: "{}", receivedAt: at });
    processor.wake();
    await processor.idle();
    expect(handled).toEqual(["late"]);
    await processor.stop();
  });

  it("handles no more than its concurrency at once, and one delivery per ordering key at a time", async () => {
    const store = await inboxWith(await fresh(), [["a1", "pr#1"], ["a2", "pr#1"], "b", "c", "d"]);
    const gates = new Map<string, ReturnType<typeof later>>();
    const started: string[] = [];
    const processor = new InboxProcessor(store, {
      handle: async ({ id }) => {
        started.push(id);
        const gate = later();
        gates.set(id, gate);
        await gate.promise;
      },
      concurrency: 3,
      keepMs: 1_000,
      log: quiet,
    });
    processor.start();
    // The first three start together (on PostgreSQL their handlers may begin in any order).
    await expect.poll(() => [...started].sort()).toEqual(["a1", "b", "c"]);
    gates.get("a1")!.release();
    // a2 waited for a1, though it arrived before d.
    await expect.poll(() => started.slice(3)).toEqual(["a2"]);
    gates.get("b")!.release();
    await expect.poll(() => started.slice(3)).toEqual(["a2", "d"]);
    for (const id of ["c", "a2", "d"]) gates.get(id)!.release();
    await processor.idle();
    expect((await store.pendingDeliveries(10, new Date())).length).toBe(0);
    await processor.stop();
  });

  it("looks past a long run of deliveries waiting on one busy key for one it can start", async () => {
    const store = await inboxWith(await fresh(), [...Array.from({ length: 30 }, (_, i): [string, string] => [`a${i}`, "pr#1"]), ["b", "pr#2"]]);
    const gate = later();
    const started: string[] = [];
    const processor = new InboxProcessor(store, {
      handle: async ({ id }) => {
        started.push(id);
        if (id === "a0") await gate.promise;
      },
      concurrency: 2,
      keepMs: 1_000,
      log: quiet,
    });
    processor.start();
    await expect.poll(() => [...started].sort()).toEqual(["a0", "b"]);
    gate.release();
    await processor.idle();
    expect(started).toHaveLength(31);
    await processor.stop();
  });

  it("tries a failing delivery again, then records it failed with the handlers' errors", async () => {
    const store = await inboxWith(await fresh(), ["a", "b"]);
    const attempts: string[] = [];
    const errors: string[] = [];
    const processor = new InboxProcessor(store, {
      handle: async ({ id }) => {
        attempts.push(id);
        if (id === "a") throw new AggregateError([new Error("GitHub answered 502"), new Error("no check run")]);
      },
      retryDelaysMs: [1, 1],
      keepMs: 1_000,
      log: { ...quiet, error: (_details, message) => errors.push(message) },
    });
    processor.start();
    await processor.idle();
    expect(attempts.filter((id) => id === "a")).toHaveLength(3);
    expect(await store.getDelivery("a")).toMatchObject({ state: "failed", attempts: 3, error: "GitHub answered 502; no check run" });
    expect(await store.getDelivery("b")).toMatchObject({ state: "done" });
    expect(errors).toEqual(["delivery a failed on every attempt: GitHub answered 502; no check run"]);
    await processor.stop();
  });

  it("succeeds on a later attempt", async () => {
    const store = await inboxWith(await fresh(), ["a"]);
    let calls = 0;
    const processor = new InboxProcessor(store, {
      handle: async () => {
        if (++calls === 1) throw new Error("flaky");
      },
      retryDelaysMs: [1],
      keepMs: 1_000,
      log: quiet,
    });
    processor.start();
    await processor.idle();
    expect(await store.getDelivery("a")).toMatchObject({ state: "done", attempts: 2 });
    await processor.stop();
  });

  it("resumes what a stopped server left pending, and gives up a delivery that stopped the server every time", async () => {
    const store = await inboxWith(await fresh(), ["cut-short", "killer"]);
    // The last server started both; it stopped handling cut-short once, and killer three times.
    const claim = { owner: "the stopped server", expiresAt: new Date(Date.now() + 3_600_000) };
    await store.startDelivery("cut-short", claim, new Date());
    for (let i = 0; i < 3; i++) await store.startDelivery("killer", claim, new Date());
    const handled: string[] = [];
    // The only process on the store: the claims the stopped one left end at once.
    const processor = new InboxProcessor(store, { handle: async ({ id }) => void handled.push(id), keepMs: 1_000, log: quiet, soleProcess: true });
    processor.start();
    await processor.idle();
    expect(handled).toEqual(["cut-short"]);
    expect(await store.getDelivery("cut-short")).toMatchObject({ state: "done", attempts: 2 });
    expect(await store.getDelivery("killer")).toMatchObject({ state: "failed", error: "its handlers did not finish in 3 attempts: the last was cut short by a stop of the server" });
    await processor.stop();
  });

  it("leaves a delivery pending when it is stopped while handling it", async () => {
    const store = await inboxWith(await fresh(), ["a", "b"]);
    const gate = later();
    const processor = new InboxProcessor(store, { handle: () => gate.promise, concurrency: 1, keepMs: 1_000, log: quiet });
    processor.start();
    await expect.poll(async () => (await store.getDelivery("a"))?.attempts).toBe(1);
    await processor.stop(10);
    gate.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // a finished after the stop and is recorded; b was never started.
    expect(await store.getDelivery("b")).toMatchObject({ state: "pending", attempts: 0 });
  });

  it("forgets finished deliveries older than the window when it starts", async () => {
    const store = await inboxWith(await fresh(), ["old", "recent"]);
    await store.finishDelivery("old", new Date(at.getTime() - 10_000));
    await store.finishDelivery("recent", at);
    const processor = new InboxProcessor(store, { handle: async () => undefined, keepMs: 5_000, clock: () => at, log: quiet });
    processor.start();
    await processor.idle();
    await expect.poll(async () => await store.getDelivery("old")).toBeUndefined();
    expect(await store.getDelivery("recent")).toBeDefined();
    await processor.stop();
  });

  it("shares the inbox with another process: each delivery is handled once, those of one ordering key one at a time and in order", async () => {
    const open = await freshPlace();
    const ids = Array.from({ length: 40 }, (_, i) => [`d${i}`, `pr#${i % 4}`] as [string, string]);
    const [first, second] = [await inboxWith(await open(), ids), await open()];
    const handled: Array<{ id: string; by: string }> = [];
    const busyKeys = new Set<string>();
    const overlaps: string[] = [];
    const processorOn = (store: RunStore, by: string) =>
      new InboxProcessor(store, {
        handle: async ({ id, payload }) => {
          const key = ids.find(([candidate]) => candidate === id)![1];
          if (busyKeys.has(key)) overlaps.push(id);
          busyKeys.add(key);
          handled.push({ id, by });
          await new Promise((resolve) => setTimeout(resolve, 5));
          busyKeys.delete(key);
          expect(payload).toEqual({ id });
        },
        // Two keys each at most: the other process has the other two to take.
        concurrency: 2,
        keepMs: 1_000,
        pollMs: 50,
        log: quiet,
      });
    const processors = [processorOn(first, "first"), processorOn(second, "second")];
    for (const processor of processors) processor.start();
    // An hour on, every claim has expired: what is still pending is listed whoever holds it.
    await expect.poll(async () => (await first.pendingDeliveries(100, new Date(Date.now() + 3_600_000))).length, { timeout: 20_000 }).toBe(0);
    await Promise.all(processors.map((processor) => processor.idle()));
    expect(handled.map(({ id }) => id).sort()).toEqual(ids.map(([id]) => id).sort());
    expect(overlaps).toEqual([]);
    for (let key = 0; key < 4; key++) {
      const order = handled.filter(({ id }) => Number(id.slice(1)) % 4 === key).map(({ id }) => Number(id.slice(1)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    // Both took part.
    expect(new Set(handled.map(({ by }) => by)).size).toBe(2);
    for (const [id] of ids) expect(await first.getDelivery(id)).toMatchObject({ state: "done", attempts: 1 });
    await Promise.all(processors.map((processor) => processor.stop()));
  });

  it("takes a delivery that a dead process held once its claim expires, and not before", async () => {
    const store = await inboxWith(await fresh(), ["held", "free"]);
    const expiresAt = new Date(Date.now() + 1_000);
    expect(await store.startDelivery("held", { owner: "a process that died", expiresAt }, new Date())).toBeDefined();
    const handled: Array<{ id: string; at: number }> = [];
    const processor = new InboxProcessor(store, { handle: async ({ id }) => void handled.push({ id, at: Date.now() }), keepMs: 1_000, pollMs: 50, log: quiet });
    processor.start();
    await expect.poll(() => handled.map(({ id }) => id), { timeout: 10_000 }).toEqual(["free", "held"]);
    expect(handled[1]!.at).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(await store.getDelivery("held")).toMatchObject({ state: "done", attempts: 2 });
    await processor.stop();
  });
});
