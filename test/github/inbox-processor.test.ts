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

describeEachStore("InboxProcessor", ({ fresh }) => {
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
    expect((await store.pendingDeliveries(10)).length).toBe(0);
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
    await store.startDelivery("cut-short");
    for (let i = 0; i < 3; i++) await store.startDelivery("killer");
    const handled: string[] = [];
    const processor = new InboxProcessor(store, { handle: async ({ id }) => void handled.push(id), keepMs: 1_000, log: quiet });
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
});
