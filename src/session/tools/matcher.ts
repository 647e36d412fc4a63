// Where the glob tool's patterns run: in a worker thread that can be stopped. A glob becomes a
// regular expression, and one with many wildcards can backtrack for longer than the universe lasts;
// run in the server's thread, it would stop every run, webhook and page with it. In a worker, the
// server's thread only waits for a message, and the worker is terminated (which interrupts a
// running match) when the search's time is up or the run stops. (grep's patterns run in ripgrep,
// whose regular expressions take linear time, in a child process: see grep.ts.)
//
// The worker is a short script, not a module file, so it runs the same from the built server and
// from the sources under test.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ToolError } from "../define-tool.js";

const SCRIPT = `
const { parentPort, workerData } = require("node:worker_threads");
let key;
let glob;
parentPort.on("message", (request) => {
  try {
    if (request.key !== key) {
      key = undefined;
      glob = new (require(workerData.minimatch).Minimatch)(request.glob, { dot: true });
      key = request.key;
    }
    parentPort.postMessage({ value: request.paths.map((path) => glob.match(path)) });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
});
`;

const MINIMATCH = createRequire(import.meta.url).resolve("minimatch");
/** Enough for matching thousands of paths; a worker that needs more ends, not the server. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };
/**
 * Workers kept for the next search: starting one costs tens of milliseconds, more than most
 * searches. A worker stopped in a match or failed is never kept.
 */
const MAX_IDLE = 4;

interface PooledWorker {
  worker: Worker;
  /** Takes the worker out of the pool should it end while idle. */
  onExit(): void;
}

const idle: PooledWorker[] = [];

function takeWorker(): PooledWorker {
  const kept = idle.pop();
  if (kept) {
    kept.worker.off("exit", kept.onExit);
    kept.worker.ref();
    return kept;
  }
  return startWorker();
}

function startWorker(): PooledWorker {
  const worker = new Worker(SCRIPT, { eval: true, workerData: { minimatch: MINIMATCH }, resourceLimits: RESOURCE_LIMITS });
  const pooled: PooledWorker = {
    worker,
    onExit: () => {
      const at = idle.indexOf(pooled);
      if (at >= 0) idle.splice(at, 1);
    },
  };
  return pooled;
}

/**
 * Starts workers until `count` are idle, so that the next searches need not wait for one to start;
 * called as a session starts, while its first model call is under way.
 */
export function prepareMatchers(count = 2): void {
  while (idle.length < Math.min(count, MAX_IDLE)) keepWorker(startWorker());
}

function keepWorker(pooled: PooledWorker): void {
  if (idle.length >= MAX_IDLE) return void pooled.worker.terminate();
  // An idle worker does not keep the process alive.
  pooled.worker.unref();
  pooled.worker.once("exit", pooled.onExit);
  idle.push(pooled);
}

async function stop(pooled: PooledWorker): Promise<void> {
  await pooled.worker.terminate();
}

let specs = 0;

/** The search's signal fired while a match was running: the worker was terminated. */
export class MatchStopped extends Error {
  override name = "MatchStopped";
}

const failure = (error: Error & { code?: string }) =>
  new ToolError(error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "the pattern needed too much memory; simplify it or narrow the search" : `the pattern failed: ${error.message}`);

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class Matcher {
  readonly #pooled: PooledWorker;
  readonly #signal: AbortSignal;
  readonly #glob: string;
  readonly #key = ++specs;
  readonly #listeners: { message(reply: { value?: unknown; error?: string }): void; error(error: Error): void; exit(): void };
  #pending: Pending | undefined;
  #failed: Error | undefined;
  /** The worker was stopped or failed: it is not kept for another search. */
  #spoiled = false;

  /** A matcher for a glob, of files' paths; stops when `signal` fires. */
  constructor(spec: { glob: string }, signal: AbortSignal) {
    this.#glob = spec.glob;
    this.#pooled = takeWorker();
    this.#signal = signal;
    this.#listeners = {
      message: (reply) =>
        this.#settle((pending) => (reply.error === undefined ? pending.resolve(reply.value) : pending.reject(new ToolError(`the pattern failed: ${reply.error}`)))),
      error: (error) => this.#fail(failure(error)),
      exit: () => this.#fail(new ToolError("the pattern's matcher ended unexpectedly")),
    };
    // Listened to from the start: an error with no listener would be thrown in the server's thread.
    const { worker } = this.#pooled;
    worker.on("message", this.#listeners.message);
    worker.on("error", this.#listeners.error);
    worker.on("exit", this.#listeners.exit);
  }

  /** Which of these paths the glob matches. */
  select(paths: string[]): Promise<boolean[]> {
    return this.#ask({ paths });
  }

  /** Done with the matcher: its worker is kept for another search, unless it was stopped or failed. */
  async close(): Promise<void> {
    this.#failed ??= new ToolError("the matcher is closed");
    const { worker } = this.#pooled;
    worker.off("message", this.#listeners.message);
    worker.off("error", this.#listeners.error);
    worker.off("exit", this.#listeners.exit);
    if (this.#spoiled || this.#pending) await stop(this.#pooled);
    else keepWorker(this.#pooled);
  }

  #fail(error: Error): void {
    this.#spoiled = true;
    this.#failed ??= error;
    this.#settle((pending) => pending.reject(error));
  }

  #settle(how: (pending: Pending) => void): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) how(pending);
  }

  #ask<T>(request: Record<string, unknown>): Promise<T> {
    const signal = this.#signal;
    return new Promise<T>((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      if (signal.aborted) return reject(new MatchStopped());
      const onAbort = () => {
        this.#fail(new MatchStopped());
        void stop(this.#pooled);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#pending = {
        resolve: (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value as T);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      this.#pooled.worker.postMessage({ ...request, key: this.#key, glob: this.#glob });
    });
  }
}
