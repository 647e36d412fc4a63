// What the check-run, reply and status-comment outboxes share: a loop that sends what the store
// holds, at most `concurrency` writes at once and one at a time per lane (a check run, an issue),
// looking again whenever a write ends, something new is recorded (wake) or a retry falls due (the
// poll). What is left when the server stops waits in the store for the next start.
//
// Several processes may share the store: each item is claimed in the store before it is sent, so
// only one process sends it. The claim is renewed while the send goes on; a process that dies
// leaves its claims to expire, and another process sends those items then (an item whose
// creation was on its way is looked up on GitHub before it is created again).
import { processOwner } from "../runs/process-owner.js";
import type { ClaimQueue, ItemClaim, RunStore } from "../runs/store.js";

export interface OutboxOptions {
  /** Lanes sent to at once. */
  concurrency?: number;
  /** How often to look for writes whose retry is due (and claims that expired). */
  pollMs?: number;
  clock?: () => Date;
  /** Names this process in its claims; one of its own by default. */
  owner?: string;
  /** How long a claim holds unless renewed; renewed every third of it while the send goes on. Default one minute. */
  claimMs?: number;
  /**
   * This process is the store's only one (SQLite): claims found at start were left by a process
   * that stopped, and are ended at once rather than left to expire.
   */
  soleProcess?: boolean;
}

const DEFAULT_CLAIM_MS = 60_000;

export abstract class Outbox<Item> {
  /** Sends under way (or waiting for the one before them on their lane), by lane. */
  readonly #sending = new Map<string, Promise<void>>();
  /** The keys of the items claimed here whose send has not ended: their claims are renewed. */
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #pumping: Promise<void> | undefined;
  #ready: Promise<void> = Promise.resolve();
  #again = false;
  #stopped = true;
  readonly #owner: string;

  constructor(
    private readonly loop: OutboxOptions,
    private readonly claims: { store: Pick<RunStore, "renewClaims" | "releaseClaims">; queue: ClaimQueue },
  ) {
    this.#owner = loop.owner ?? processOwner();
  }

  /** Up to `limit` items due at `now`, in the order they are to be sent, whoever holds them. */
  protected abstract due(now: Date, limit: number): Promise<Item[]>;
  /** Claims up to `limit` items due at `now` that no other process holds, in the order they are to be sent. */
  protected abstract claim(now: Date, limit: number, claim: ItemClaim): Promise<Item[]>;
  /** The item's key in the store. */
  protected abstract keyOf(item: Item): string;
  /** The lane of an item: two items of one lane are never sent at once. */
  protected abstract laneOf(item: Item): string;
  /** Sends one item and records the outcome in the store (which ends its claim); never throws. */
  protected abstract send(item: Item): Promise<void>;
  /** The store could not be read; the next look tries again. */
  protected abstract lookFailed(error: unknown): void;

  get #claimMs(): number {
    return this.loop.claimMs ?? DEFAULT_CLAIM_MS;
  }

  /** Sends what the store holds (what a stopped server left too), and from now on what is recorded. */
  start(): void {
    this.#stopped = false;
    const { store, queue } = this.claims;
    if (this.loop.soleProcess) this.#ready = store.releaseClaims(queue).then(() => undefined, (error: unknown) => this.lookFailed(error));
    this.#timer = setInterval(() => this.wake(), this.loop.pollMs ?? 1_000);
    this.#timer.unref();
    this.#renewTimer = setInterval(() => void this.#renew(), this.#claimMs / 3);
    this.#renewTimer.unref();
    this.wake();
  }

  /** Looks for writes to send now (again, if a look is under way: one may have been recorded since). */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    this.#pumping ??= (async () => {
      try {
        await this.#ready;
        while (this.#again && !this.#stopped) {
          this.#again = false;
          await this.#pump();
        }
      } catch (error) {
        this.lookFailed(error);
      } finally {
        this.#pumping = undefined;
      }
    })();
  }

  /** Sends nothing more; waits for the writes under way. What is left waits in the store. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#pumping;
    await Promise.all(this.#sending.values());
    clearInterval(this.#renewTimer);
  }

  /** Sends what is due for up to `ms` (a stopping server's last writes), then stops. */
  async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    await this.stop();
  }

  /** Resolves once nothing is due or being sent, or the outbox stopped. */
  async idle(): Promise<void> {
    while (!this.#stopped) {
      await this.#pumping;
      await Promise.all(this.#sending.values());
      const due = await this.due(this.now(), 1);
      if (due.length === 0 && this.#sending.size === 0) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  protected now(): Date {
    return this.loop.clock?.() ?? new Date();
  }

  #claimUntil(): ItemClaim {
    return { owner: this.#owner, expiresAt: new Date(this.now().getTime() + this.#claimMs) };
  }

  /** Keeps the claims on the items being sent; a send outlives a claim only when this process stalls past it. */
  async #renew(): Promise<void> {
    // Also while stopping: the sends under way go on until they end.
    const keys = [...this.#held];
    if (keys.length === 0) return;
    try {
      const { expiresAt } = this.#claimUntil();
      await this.claims.store.renewClaims(this.claims.queue, this.#owner, keys, expiresAt);
    } catch (error) {
      this.lookFailed(error);
    }
  }

  /**
   * Whether the claim on an item is still this process's, renewed, right before its send: an item
   * that waited its turn through a stall longer than its claim (a stopped or frozen process) may be
   * another process's by now, and sending it here too would write to GitHub twice.
   */
  async #stillHeld(key: string): Promise<boolean> {
    try {
      const kept = await this.claims.store.renewClaims(this.claims.queue, this.#owner, [key], this.#claimUntil().expiresAt);
      return kept.includes(key);
    } catch (error) {
      // Not sent now: the claim runs out and the item is sent then, by whichever process claims it.
      this.lookFailed(error);
      return false;
    }
  }

  async #pump(): Promise<void> {
    const free = (this.loop.concurrency ?? 4) - this.#sending.size;
    if (free <= 0) return;
    // Items being sent are claimed, by this process or another, so none comes back here while
    // its send goes on. The next item of a lane may, once the one before it is recorded as sent
    // and before that send has quite ended here: it goes after it.
    const claimed = await this.claim(this.now(), free, this.#claimUntil());
    for (const item of claimed) {
      const lane = this.laneOf(item);
      const key = this.keyOf(item);
      this.#held.add(key);
      const sent: Promise<void> = (this.#sending.get(lane) ?? Promise.resolve())
        .then(async () => {
          if (await this.#stillHeld(key)) await this.send(item);
        })
        .finally(() => {
          this.#held.delete(key);
          if (this.#sending.get(lane) === sent) this.#sending.delete(lane);
          // The next write of this lane may be waiting.
          this.wake();
        });
      this.#sending.set(lane, sent);
    }
  }
}
