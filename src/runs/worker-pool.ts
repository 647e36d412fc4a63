// Workers: take queued runs from the store, fairly across installations, and execute them, at
// most `concurrency` at a time. A run ends completed (with the agent's outcome), errored (with
// the reason) or cancelled; it is never retried.
import type { ExecutionContext, RunExecutor, RunResult } from "../session/execution.js";
import type { RunObserver } from "./run-observer.js";
import type { RunRecord, RunStore, TranscriptEvent } from "./store.js";

export type { ExecutionContext, RunExecutor, RunResult };

export interface WorkerPoolOptions {
  concurrency: number;
  observer?: RunObserver;
  /** How often to look for queued runs besides being woken up, in milliseconds. */
  pollInterval?: number;
  clock?: () => Date;
  onError?: (error: unknown) => void;
}

class Cancelled extends Error {}

export class WorkerPool {
  readonly #running = new Map<string, AbortController>();
  readonly #listeners = new Set<(runId: string, event: TranscriptEvent) => void>();
  readonly #finished = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #filling: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(
    private readonly store: RunStore,
    private readonly executor: RunExecutor,
    private readonly options: WorkerPoolOptions,
  ) {}

  /** Marks runs left running by a previous process as interrupted, then starts taking runs. */
  async start(): Promise<string[]> {
    const interrupted = await this.store.interruptRunning(this.#now());
    for (const id of interrupted) await this.#tell("finished", id);
    this.#stopped = false;
    this.#timer = setInterval(() => this.wake(), this.options.pollInterval ?? 5_000);
    this.#timer.unref();
    this.wake();
    return interrupted;
  }

  /** Looks for queued runs now (again, if a look is under way: a run may have been queued since). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#filling) {
      this.#again = true;
      return;
    }
    this.#filling = (async () => {
      do {
        this.#again = false;
        await this.#fill();
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#filling = undefined));
  }

  /** Follows every transcript event as it is recorded; returns the way to stop following. */
  onEvent(listener: (runId: string, event: TranscriptEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Cancels a queued run, or aborts a running one; false when the run is neither. */
  async cancel(runId: string, reason = "cancelled by a user"): Promise<boolean> {
    if (await this.store.transition(runId, ["queued"], { status: "cancelled", reason, finishedAt: this.#now() })) {
      await this.#tell("finished", runId);
      return true;
    }
    const controller = this.#running.get(runId);
    if (!controller) return false;
    controller.abort(new Cancelled(reason));
    return true;
  }

  /** Stops taking runs; runs still going are aborted and recorded as interrupted. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#filling;
    for (const controller of this.#running.values()) controller.abort(new Error("interrupted"));
    await Promise.all(this.#finished);
  }

  async #fill(): Promise<void> {
    try {
      while (!this.#stopped && this.#running.size < this.options.concurrency) {
        const run = await this.store.claimNextRun(this.#now());
        if (!run) return;
        const finished = this.#execute(run);
        this.#finished.add(finished);
        void finished.finally(() => this.#finished.delete(finished));
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Tells the observer of the run as the store now has it; an observer's failure is only reported. */
  async #tell(what: "started" | "finished", runId: string): Promise<void> {
    const observer = this.options.observer?.[what];
    if (!observer) return;
    try {
      const run = await this.store.getRun(runId);
      if (run) await observer.call(this.options.observer, run);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  async #execute(run: RunRecord): Promise<void> {
    const controller = new AbortController();
    this.#running.set(run.id, controller);
    await this.#tell("started", run.id);
    const record = async (kind: string, data: unknown) => {
      const at = this.#now();
      const seq = await this.store.appendEvent(run.id, kind, data, at);
      for (const listener of this.#listeners) listener(run.id, { seq, at, kind, data });
    };
    try {
      const result = await this.executor.execute(run, { signal: controller.signal, record });
      controller.signal.throwIfAborted();
      await this.store.transition(run.id, ["running"], {
        status: "completed",
        outcome: result.outcome,
        finishedAt: this.#now(),
        ...(result.summary === undefined ? {} : { summary: result.summary }),
        ...(result.usage === undefined ? {} : { usage: result.usage }),
      });
    } catch (error) {
      const cause = controller.signal.aborted ? controller.signal.reason : error;
      const cancelled = cause instanceof Cancelled;
      const reason = cause instanceof Error ? cause.message : String(cause);
      await this.store
        .transition(run.id, ["running"], { status: cancelled ? "cancelled" : "errored", reason, finishedAt: this.#now() })
        .catch((storeError: unknown) => this.options.onError?.(storeError));
    } finally {
      this.#running.delete(run.id);
      await this.#tell("finished", run.id);
      this.wake();
    }
  }

  #now(): Date {
    return this.options.clock?.() ?? new Date();
  }
}
