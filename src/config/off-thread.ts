// Work on anyone's text (a routines file from a fork's pull request, say) in a worker thread, so
// it never holds the event loop, within a time and memory budget: past either, the worker is
// stopped and the caller's fallback answers. At most two run at once; more wait their turn.
import { setPriority } from "node:os";
import { Worker } from "node:worker_threads";

const PARALLEL = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function turn<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export interface OffThreadBudget<T> {
  timeoutMs: number;
  /** The answer when the work takes longer than timeoutMs. */
  tooSlow(): T;
  /** The answer when the work needs more memory than the worker may have. */
  tooLarge(): T;
}

/** Runs the worker script at `script` with `data`; it posts one message, the result. */
export function runOffThread<T>(script: URL, data: unknown, budget: OffThreadBudget<T>): Promise<T> {
  return turn(
    () =>
      new Promise<T>((resolve, reject) => {
        const worker = new Worker(script, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 256 } });
        let settled = false;
        const settle = (action: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          void worker.terminate();
          action();
        };
        const timer = setTimeout(() => settle(() => resolve(budget.tooSlow())), budget.timeoutMs);
        worker.once("message", (result: T) => settle(() => resolve(result)));
        worker.once("error", (error) => settle(() => ((error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY" ? resolve(budget.tooLarge()) : reject(error))));
        worker.once("exit", (code) => settle(() => reject(new Error(`a worker thread exited with ${code} before it answered`))));
      }),
  );
}

/**
 * Called first in a worker script: on Linux the nice value is per thread, so the worker yields the
 * CPU to the event loop's thread whenever both want it. Elsewhere it may not apply; that is fine.
 */
export function yieldToEventLoop(): void {
  try {
    setPriority(19);
  } catch {
    // not permitted or not supported: the worker runs at normal priority
  }
}
