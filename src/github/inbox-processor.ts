// Runs the app's handlers for the deliveries waiting in the inbox, after the receiver has answered
// GitHub. Deliveries start in order of arrival, a few at a time; those about one pull request or
// issue (one ordering key) one after another. Each attempt is counted in the store before it
// starts, so a delivery that a stopped or killed server left pending is handled again at the next
// start, and one that keeps failing, or keeps killing the server, is given up after a few attempts
// and recorded as failed with its error. Handlers are idempotent per delivery id (admission
// deduplicates runs by it), so handling a delivery again starts nothing twice.
//
// Several processes may share the inbox: a delivery is claimed in the store when it is started,
// so one process at a time handles it, and a later one of its ordering key waits until it is
// finished, whichever process holds it. The claim is renewed while the handlers run; those of a
// process that died are taken by another once they expire (the poll looks for them).
import type { ReceivedWebhook } from "./receive-webhooks.js";
import type { InboxDelivery, ItemClaim, RunStore } from "../runs/store.js";
import { processOwner } from "../runs/process-owner.js";

export type InboxStore = Pick<RunStore, "pendingDeliveries" | "startDelivery" | "finishDelivery" | "pruneDeliveries" | "renewClaims" | "releaseClaims">;

export interface InboxProcessorOptions {
  /** Runs the app's handlers for one delivery (Probot's `receive`). */
  handle(delivery: ReceivedWebhook): Promise<void>;
  log: { debug(details: object, message: string): void; info(details: object, message: string): void; warn(details: object, message: string): void; error(details: object, message: string): void };
  /** Deliveries handled at once. Default 8. */
  concurrency?: number;
  /** Attempts before a delivery is recorded as failed, those cut short by a stop included. Default 3. */
  maxAttempts?: number;
  /** Wait before the second, third, … attempt. Default 1 s, then 5 s. */
  retryDelaysMs?: readonly number[];
  /** Done and failed deliveries are forgotten after this long (with the replay window). */
  keepMs: number;
  clock?: () => Date;
  /** Names this process in its claims; one of its own by default. */
  owner?: string;
  /** How long a claim on a delivery holds unless renewed; renewed every third of it. Default one minute. */
  claimMs?: number;
  /** How often to look for deliveries whose claim expired (their process died). Default 5 s. */
  pollMs?: number;
  /** This process is the store's only one (SQLite): claims found at start were left by a stopped process and end at once. */
  soleProcess?: boolean;
}

const HOUR = 3_600_000;
/** How many pending deliveries one look reads (ids only), to find some whose key is free. */
const LOOK_AHEAD = 500;

const errorText = (error: unknown): string => {
  if (error instanceof AggregateError) return error.errors.map(errorText).join("; ");
  return error instanceof Error ? error.message : String(error);
};

export class InboxProcessor {
  readonly #store: InboxStore;
  readonly #options: InboxProcessorOptions;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  /** Delivery ids being handled, and the ordering keys they hold. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #busyKeys = new Set<string>();
  #started = false;
  #stopped = false;
  /** A look at the inbox is under way; another was asked for meanwhile. */
  #looking = false;
  #lookAgain = false;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #ready: Promise<void> = Promise.resolve();
  readonly #owner: string;
  #idle: Array<() => void> = [];

  constructor(store: InboxStore, options: InboxProcessorOptions) {
    this.#store = store;
    this.#options = options;
    this.#concurrency = options.concurrency ?? 8;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#owner = options.owner ?? processOwner();
  }

  #claim(): ItemClaim {
    return { owner: this.#owner, expiresAt: new Date(this.#now().getTime() + (this.#options.claimMs ?? 60_000)) };
  }

  #now(): Date {
    return this.#options.clock?.() ?? new Date();
  }

  /** Starts handling: first what a stopped server left pending, then whatever arrives. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#prune();
    this.#pruneTimer = setInterval(() => void this.#prune(), HOUR).unref();
    if (this.#options.soleProcess) {
      this.#ready = this.#store.releaseClaims("inbox").then(
        () => undefined,
        (error: unknown) => this.#options.log.error({ err: error }, "claims a stopped server left in the inbox could not be ended; they expire"),
      );
    }
    this.#pollTimer = setInterval(() => this.wake(), this.#options.pollMs ?? 5_000).unref();
    this.#renewTimer = setInterval(() => void this.#renew(), (this.#options.claimMs ?? 60_000) / 3).unref();
    this.wake();
  }

  /** Keeps the claims on the deliveries being handled. */
  async #renew(): Promise<void> {
    if (this.#running.size === 0) return;
    try {
      await this.#store.renewClaims("inbox", this.#owner, [...this.#running.keys()], this.#claim().expiresAt);
    } catch (error) {
      this.#options.log.warn({ err: error }, "claims on deliveries being handled could not be renewed; trying again");
    }
  }

  /** Tells the processor a delivery arrived. */
  wake(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#looking) {
      this.#lookAgain = true;
      return;
    }
    this.#looking = true;
    void this.#look().finally(() => {
      this.#looking = false;
      if (this.#lookAgain) {
        this.#lookAgain = false;
        this.wake();
      } else if (this.#running.size === 0) {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    });
  }

  /** Resolves once nothing is pending that can start and nothing is being handled. */
  idle(): Promise<void> {
    if (!this.#looking && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Takes no more deliveries; waits up to `graceMs` for those being handled (the rest stay pending for the next start). */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pruneTimer);
    clearInterval(this.#pollTimer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#running.values()]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    clearInterval(this.#renewTimer);
  }

  async #look(): Promise<void> {
    await this.#ready;
    // A short look first: the oldest few pending are what starts, unless their keys are busy. The
    // long look (LOOK_AHEAD) only then, so a long inbox does not cost a long read per delivery.
    const short = this.#running.size + 2 * (this.#concurrency - this.#running.size);
    for (const limit of [short, LOOK_AHEAD + this.#running.size]) {
      if (this.#stopped || this.#running.size >= this.#concurrency) return;
      let pending;
      try {
        pending = await this.#store.pendingDeliveries(limit, this.#now());
      } catch (error) {
        this.#options.log.error({ err: error }, "the inbox could not be read; trying again in a second");
        setTimeout(() => this.wake(), 1_000).unref();
        return;
      }
      for (const { id, orderingKey } of pending) {
        if (this.#stopped || this.#running.size >= this.#concurrency) return;
        if (this.#running.has(id) || (orderingKey !== undefined && this.#busyKeys.has(orderingKey))) continue;
        if (orderingKey !== undefined) this.#busyKeys.add(orderingKey);
        const handling = this.#process(id).finally(() => {
          this.#running.delete(id);
          if (orderingKey !== undefined) this.#busyKeys.delete(orderingKey);
          this.wake();
        });
        this.#running.set(id, handling);
      }
      // Everything pending was seen.
      if (pending.length < limit) return;
    }
  }

  /** Handles one delivery through its attempts; never throws. */
  async #process(id: string): Promise<void> {
    const { log } = this.#options;
    const delays = this.#options.retryDelaysMs ?? [1_000, 5_000];
    for (;;) {
      let delivery: InboxDelivery | undefined;
      try {
        delivery = await this.#store.startDelivery(id, this.#claim(), this.#now());
      } catch (error) {
        log.error({ err: error, delivery: id }, "a delivery in the inbox could not be started; it stays pending");
        return;
      }
      if (!delivery) return;
      const details = { delivery: id, event: delivery.name, attempt: delivery.attempts };
      // Attempts that a stop cut short count too: a delivery that kills the server is not tried forever.
      if (delivery.attempts > this.#maxAttempts) {
        const error = `its handlers did not finish in ${this.#maxAttempts} attempts: the last was cut short by a stop of the server`;
        log.error(details, `delivery ${id} is given up: ${error}`);
        await this.#finish(id, error);
        return;
      }
      if (delivery.attempts > 1) log.info(details, "a delivery is handled again");
      try {
        // The body was parsed when it was received: it is JSON.
        await this.#options.handle({ id, name: delivery.name, payload: JSON.parse(delivery.body) as unknown });
        await this.#finish(id);
        log.debug(details, "delivery handled");
        return;
      } catch (error) {
        const message = errorText(error);
        if (delivery.attempts >= this.#maxAttempts || this.#stopped) {
          if (this.#stopped) {
            log.warn({ ...details, err: error }, "a delivery's handlers failed while the server stopped; it stays pending for the next start");
            return;
          }
          log.error({ ...details, err: error }, `delivery ${id} failed on every attempt: ${message}`);
          await this.#finish(id, message);
          return;
        }
        const delay = delays[Math.min(delivery.attempts - 1, delays.length - 1)] ?? 0;
        log.warn({ ...details, err: error, retryInMs: delay }, "a delivery's handlers failed; trying again");
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.#stopped) return;
      }
    }
  }

  async #finish(id: string, error?: string): Promise<void> {
    try {
      await this.#store.finishDelivery(id, this.#now(), error);
    } catch (failure) {
      // It stays pending and is handled again at the next start; handlers are idempotent per delivery.
      this.#options.log.error({ err: failure, delivery: id }, "a handled delivery could not be recorded as finished");
    }
  }

  async #prune(): Promise<void> {
    try {
      const pruned = await this.#store.pruneDeliveries(new Date(this.#now().getTime() - this.#options.keepMs));
      if (pruned > 0) this.#options.log.info({ deliveries: pruned }, "forgot handled deliveries older than the replay window");
    } catch (error) {
      this.#options.log.warn({ err: error }, "old deliveries could not be pruned from the inbox");
    }
  }
}
