// What the check-run and reply outboxes share: a loop that sends what the store holds, at most
// `concurrency` writes at once and one at a time per lane (a check run, an issue), looking again
// whenever a write ends, something new is recorded (wake) or a retry falls due (the poll).
// What is left when the server stops waits in the store for the next start.

export interface OutboxOptions {
  /** Lanes sent to at once. */
  concurrency?: number;
  /** How often to look for writes whose retry is due. */
  pollMs?: number;
  clock?: () => Date;
}

export abstract class Outbox<Item> {
  /** Sends under way, by lane. */
  readonly #sending = new Map<string, Promise<void>>();
  /** When each lane's last send ended, counted in sends ended; see #pump. */
  readonly #ended = new Map<string, number>();
  #sendsEnded = 0;
  #timer: NodeJS.Timeout | undefined;
  #pumping: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(private readonly loop: OutboxOptions) {}

  /** Up to `limit` items due at `now`, in the order they are to be sent. */
  protected abstract due(now: Date, limit: number): Promise<Item[]>;
  /** The lane of an item: two items of one lane are never sent at once. */
  protected abstract laneOf(item: Item): string;
  /** Sends one item and records the outcome in the store; never throws. */
  protected abstract send(item: Item): Promise<void>;
  /** The store could not be read; the next look tries again. */
  protected abstract lookFailed(error: unknown): void;

  /** Sends what the store holds (what a stopped server left too), and from now on what is recorded. */
  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.wake(), this.loop.pollMs ?? 1_000);
    this.#timer.unref();
    this.wake();
  }

  /** Looks for writes to send now (again, if a look is under way: one may have been recorded since). */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    this.#pumping ??= (async () => {
      try {
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

  async #pump(): Promise<void> {
    const concurrency = this.loop.concurrency ?? 4;
    if (this.#sending.size >= concurrency) return;
    // What the store answers is as of when it was asked: a send that ended while the answer was on
    // its way (a database over a network) may be in it as still due. Its lane is left to the look
    // that send's end asked for.
    const asOf = this.#sendsEnded;
    // Enough items that those being sent do not hide the ones behind them.
    const due = await this.due(this.now(), concurrency * 2);
    for (const [lane, ended] of this.#ended) if (ended <= asOf) this.#ended.delete(lane);
    for (const item of due) {
      if (this.#sending.size >= concurrency || this.#stopped) return;
      const lane = this.laneOf(item);
      if (this.#sending.has(lane) || this.#ended.has(lane)) continue;
      const sent = this.send(item).finally(() => {
        this.#sending.delete(lane);
        this.#ended.set(lane, ++this.#sendsEnded);
        // The next write of this lane may be waiting.
        this.wake();
      });
      this.#sending.set(lane, sent);
    }
  }
}
