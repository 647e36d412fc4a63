// What one process tells every process sharing its store, as it happens: a transcript event
// recorded, a run's status changed, runs queued, a repository's routines changed. Signals are
// hints: each says where to look in the store, which stays the truth, so a signal that is lost
// (a process restarting, a dropped connection) costs latency, not correctness. On SQLite, which
// one process owns, they stay in the process (LocalSignals); on PostgreSQL they also go through
// LISTEN/NOTIFY to the other processes (pg-signals.ts). One code path either way.
import type { RepositoryRef } from "../config/read-config-file.js";
import type { TranscriptEvent } from "./store.js";

export type Signal =
  /** A transcript event was recorded; `event` is left out when too large to send, and read from the store. */
  | { type: "transcript"; runId: string; seq: number; kind: string; event?: TranscriptEvent }
  /** The run's status changed: read it from the store. */
  | { type: "status"; runId: string }
  /** Runs were queued: workers look for them now rather than at their next poll. */
  | { type: "queued" }
  /** A push changed the repository's `.claude/`: routines caches read it again. */
  | { type: "routines"; repository: RepositoryRef };

/**
 * Told by the process itself, never sent: signals from other processes may have been missed (the
 * listening connection was lost and is back), so whoever relies on them looks at the store again.
 */
export type Resync = { type: "resync" };

export type SignalListener = (signal: Signal | Resync) => void;

export interface Signals {
  /** Tells this process's listeners at once, and the other processes' as soon as the database passes it on. */
  publish(signal: Signal): void;
  /** Follows every signal; returns the way to stop following. */
  subscribe(listener: SignalListener): () => void;
  close(): Promise<void>;
}

/** Signals within one process: what SQLite needs, and the local half of PostgreSQL's. */
export class LocalSignals implements Signals {
  readonly #listeners = new Set<SignalListener>();

  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  publish(signal: Signal | Resync): void {
    for (const listener of this.#listeners) {
      // One listener that throws never keeps the others from hearing.
      try {
        listener(signal);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  subscribe(listener: SignalListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
