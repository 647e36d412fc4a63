// Signals between the processes that share one PostgreSQL database, through LISTEN/NOTIFY: each
// process listens on a connection of its own, which it opens again whenever it is lost (and then
// tells its listeners to look at the store again, since signals may have passed meanwhile), and
// notifies on another, one notification at a time so that they arrive in the order sent. A
// process hears its own signals at once, not through the database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { LocalSignals, type Signal, type SignalListener, type Signals } from "./signals.js";

const CHANNEL = "routines_signals";
/** NOTIFY takes at most 8000 bytes: a larger transcript event is left out of its signal (and read from the store). */
const MAX_PAYLOAD_BYTES = 7_900;
/** The name the listening connection shows in pg_stat_activity. */
export const LISTENER_NAME = "routines signals";

export interface PgSignalsOptions {
  onError?: (error: unknown) => void;
  /** The first wait before listening again after the connection was lost, in milliseconds; doubled on each failure, up to 30 s. */
  retryMs?: number;
  /** How often the listening connection is checked, in milliseconds: a connection that died silently is noticed within this. */
  checkMs?: number;
}

interface Envelope {
  /** The process that sent it, which has already heard it. */
  from: string;
  signal: Signal;
}

export class PgSignals implements Signals {
  readonly #local: LocalSignals;
  readonly #id = randomBytes(8).toString("hex");
  readonly #notifier: pg.Pool;
  #listener: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  readonly #check: NodeJS.Timeout;
  #closed = false;

  private constructor(
    private readonly url: string,
    private readonly options: PgSignalsOptions,
  ) {
    this.#local = new LocalSignals(options.onError);
    // One connection: notifications leave, and so arrive, in the order they were published.
    this.#notifier = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 15_000, application_name: "routines notify" });
    this.#notifier.on("error", (error) => this.#error(error));
    this.#check = setInterval(() => void this.#checkListener(), options.checkMs ?? 30_000);
    this.#check.unref();
  }

  /** Listens on the database at `url`; throws when it cannot be reached. */
  static async open(url: string, options: PgSignalsOptions = {}): Promise<PgSignals> {
    const signals = new PgSignals(url, options);
    try {
      await signals.#listen();
    } catch (error) {
      await signals.close();
      throw error;
    }
    return signals;
  }

  publish(signal: Signal): void {
    this.#local.publish(signal);
    if (this.#closed) return;
    this.#notifier.query("SELECT pg_notify($1, $2)", [CHANNEL, this.#encode(signal)]).catch((error: unknown) => this.#error(error));
  }

  subscribe(listener: SignalListener): () => void {
    return this.#local.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#check);
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([listener?.end().catch(() => undefined), this.#notifier.end().catch(() => undefined)]);
    await this.#local.close();
  }

  #encode(signal: Signal): string {
    const payload = JSON.stringify({ from: this.#id, signal } satisfies Envelope);
    if (Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES || signal.type !== "transcript") return payload;
    const { event: _left, ...rest } = signal;
    return JSON.stringify({ from: this.#id, signal: rest } satisfies Envelope);
  }

  #received(payload: string | undefined): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload ?? "") as Envelope;
    } catch (error) {
      this.#error(new Error(`a signal that is not JSON was received on ${CHANNEL}`, { cause: error }));
      return;
    }
    if (envelope.from === this.#id) return;
    const { signal } = envelope;
    if (signal.type === "transcript" && signal.event) signal.event.at = new Date(signal.event.at);
    this.#local.publish(signal);
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 15_000, query_timeout: 15_000, application_name: LISTENER_NAME });
    client.on("notification", (message) => {
      if (message.channel === CHANNEL) this.#received(message.payload);
    });
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
  }

  /** The listening connection failed or ended: listen again, after a wait. */
  #lost(client: pg.Client, error?: Error): void {
    if (this.#listener !== client) return;
    this.#listener = undefined;
    void client.end().catch(() => undefined);
    if (this.#closed) return;
    this.#error(new Error("the connection listening for other processes' signals was lost; listening again", error ? { cause: error } : {}));
    this.#listenAgain(this.options.retryMs ?? 1_000);
  }

  #listenAgain(waitMs: number): void {
    this.#retry = setTimeout(async () => {
      try {
        await this.#listen();
        // What passed while nobody listened is in the store: whoever follows signals looks again.
        if (!this.#closed) this.#local.publish({ type: "resync" });
      } catch (error) {
        this.#error(error);
        if (!this.#closed) this.#listenAgain(Math.min(waitMs * 2, 30_000));
      }
    }, waitMs);
    this.#retry.unref();
  }

  /** A connection that died without a word (a network cut) shows up here, not as an error. */
  async #checkListener(): Promise<void> {
    const client = this.#listener;
    if (!client) return;
    try {
      await client.query("SELECT 1");
    } catch (error) {
      this.#lost(client, error as Error);
    }
  }

  #error(error: unknown): void {
    this.options.onError?.(error);
  }
}
