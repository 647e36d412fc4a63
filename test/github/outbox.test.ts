import { describe, expect, it } from "vitest";
import { Outbox } from "../../src/github/outbox.js";
import type { ItemClaim } from "../../src/runs/store.js";

interface Item {
  key: string;
  lane: string;
}

/** An outbox over items in memory, whose claims another process can take (`steal`), and whose sends wait on a gate. */
class MemoryOutbox extends Outbox<Item> {
  readonly sent: string[] = [];
  readonly holders = new Map<string, string>();
  #items: Item[];
  #gate: Promise<void>;

  constructor(items: Item[], gate: Promise<void>) {
    const store = {
      renewClaims: async (_queue: string, owner: string, keys: readonly string[]) => keys.filter((key) => this.holders.get(key) === owner),
      releaseClaims: async () => 0,
    };
    super({ owner: "this-process", pollMs: 60_000 }, { store, queue: "checks" });
    this.#items = items;
    this.#gate = gate;
  }

  steal(key: string): void {
    this.holders.set(key, "another-process");
  }

  protected async due(): Promise<Item[]> {
    return this.#items.filter((item) => !this.sent.includes(item.key));
  }
  protected async claim(_now: Date, limit: number, { owner }: ItemClaim): Promise<Item[]> {
    const free = this.#items.filter((item) => !this.holders.has(item.key) && !this.sent.includes(item.key)).slice(0, limit);
    for (const item of free) this.holders.set(item.key, owner);
    return free;
  }
  protected keyOf(item: Item): string {
    return item.key;
  }
  protected laneOf(item: Item): string {
    return item.lane;
  }
  protected async send(item: Item): Promise<void> {
    await this.#gate;
    this.sent.push(item.key);
    this.holders.delete(item.key);
  }
  protected lookFailed(error: unknown): void {
    throw error;
  }
}

describe("Outbox", () => {
  it("does not send an item whose claim another process took while it waited its turn on its lane", async () => {
    let open!: () => void;
    const outbox = new MemoryOutbox(
      [
        { key: "first", lane: "check-1" },
        { key: "second", lane: "check-1" },
        { key: "other", lane: "check-2" },
      ],
      new Promise<void>((resolve) => (open = resolve)),
    );
    outbox.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // This process stalled past the claim on "second", which waits behind "first": another process has it now.
    outbox.steal("second");
    open();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await outbox.stop();
    expect(outbox.sent.sort()).toEqual(["first", "other"]);
  });
});
