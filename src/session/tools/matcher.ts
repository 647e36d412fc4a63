// Where the model's patterns run: in a worker thread that can be stopped. A JavaScript regular
// expression can backtrack for longer than the universe lasts ("(a+)+$" against a long line), and
// so can a glob with many wildcards, since globs become regular expressions too; run in the
// server's thread, either would stop every run, webhook and page with it. In a worker, the
// server's thread only waits for a message, and the worker is terminated (which interrupts a
// running match) when the search's time is up or the run stops.
//
// Why not ripgrep, whose regular expressions run in linear time: the tools promise JavaScript's
// syntax (lookarounds, backreferences) and glob semantics of their own, and ripgrep is only there
// where the sandbox is installed, while these tools must hold on every host. A worker keeps one
// implementation everywhere, bounded in time (termination) and memory (resource limits).
//
// The worker is a short script, not a module file, so it runs the same from the built server and
// from the sources under test.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ToolError } from "../define-tool.js";

const SCRIPT = `
const { parentPort, workerData } = require("node:worker_threads");
const { Minimatch } = require(workerData.minimatch);
// Which text of a batch is being matched, for the server to name the file if the match is stopped.
const progress = new Int32Array(workerData.progress);
const decoder = new TextDecoder();
let key;
let glob;
let regex;
const matchLines = (text, limit, width) => {
  const lines = text.split("\\n");
  const found = [];
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!regex.test(lines[i])) continue;
    count += 1;
    if (found.length < limit) found.push([i + 1, lines[i].slice(0, width)]);
  }
  return { found, count };
};
parentPort.on("message", (request) => {
  try {
    if (request.key !== key) {
      key = undefined;
      glob = request.spec.glob === undefined ? undefined : new Minimatch(request.spec.glob, { dot: true });
      regex = request.spec.regex === undefined ? undefined : new RegExp(request.spec.regex.source, request.spec.regex.flags);
      key = request.key;
    }
    if (request.paths !== undefined) return parentPort.postMessage({ value: request.paths.map((path) => glob.match(path)) });
    if (request.text !== undefined) return parentPort.postMessage({ value: matchLines(request.text, request.limit, request.width) });
    let limit = request.limit;
    const results = request.files.map((bytes, i) => {
      Atomics.store(progress, 0, i);
      const result = matchLines(decoder.decode(bytes), limit, request.width);
      limit -= result.found.length;
      return result;
    });
    parentPort.postMessage({ value: results });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
});
`;

const MINIMATCH = createRequire(import.meta.url).resolve("minimatch");
/** Enough for matching a file of a few megabytes; a worker that needs more ends, not the server. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };
/**
 * Workers kept for the next search: starting one costs tens of milliseconds, more than most
 * searches. A worker stopped in a match or failed is never kept.
 */
const MAX_IDLE = 4;

interface PooledWorker {
  worker: Worker;
  progress: Int32Array;
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
  const shared = new SharedArrayBuffer(4);
  const worker = new Worker(SCRIPT, { eval: true, workerData: { minimatch: MINIMATCH, progress: shared }, resourceLimits: RESOURCE_LIMITS });
  const pooled: PooledWorker = {
    worker,
    progress: new Int32Array(shared),
    onExit: () => {
      const at = idle.indexOf(pooled);
      if (at >= 0) idle.splice(at, 1);
    },
  };
  return pooled;
}

function keepWorker(pooled: PooledWorker): void {
  if (idle.length >= MAX_IDLE) return void pooled.worker.terminate();
  // An idle worker does not keep the process alive.
  pooled.worker.unref();
  pooled.worker.once("exit", pooled.onExit);
  idle.push(pooled);
}

let specs = 0;

/** The search's signal fired while a match was running: the worker was terminated. */
export class MatchStopped extends Error {
  override name = "MatchStopped";
}

export interface LineMatches {
  /** Line number (from 1) and the line's start, for the first `limit` matching lines. */
  found: Array<[number, string]>;
  /** How many lines matched in all. */
  count: number;
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
  readonly #spec: { glob: string } | { regex: { source: string; flags: string } };
  readonly #key = ++specs;
  readonly #listeners: { message(reply: { value?: unknown; error?: string }): void; error(error: Error): void; exit(): void };
  #pending: Pending | undefined;
  #failed: Error | undefined;
  /** The worker was stopped or failed: it is not kept for another search. */
  #spoiled = false;

  /** A matcher for a glob (files' paths) or a regular expression (lines); stops when `signal` fires. */
  constructor(spec: { glob: string } | { regex: RegExp }, signal: AbortSignal) {
    this.#spec = "glob" in spec ? { glob: spec.glob } : { regex: { source: spec.regex.source, flags: spec.regex.flags } };
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

  /** The lines of `text` the regular expression matches: at most `limit` shown, each cut to `width` characters. */
  lines(text: string, limit: number, width: number): Promise<LineMatches> {
    return this.#ask({ text, limit, width });
  }

  /**
   * The lines each file's UTF-8 `bytes` match, in one exchange with the worker: at most `limit`
   * shown across all of them. When the match is stopped, `matching` tells which file it was in.
   */
  linesOf(files: Uint8Array[], limit: number, width: number): Promise<LineMatches[]> {
    Atomics.store(this.#pooled.progress, 0, 0);
    return this.#ask({ files, limit, width });
  }

  /** The index in the last linesOf batch of the file being matched (or last matched). */
  get matching(): number {
    return Atomics.load(this.#pooled.progress, 0);
  }

  /** Done with the matcher: its worker is kept for another search, unless it was stopped or failed. */
  async close(): Promise<void> {
    this.#failed ??= new ToolError("the matcher is closed");
    const { worker } = this.#pooled;
    worker.off("message", this.#listeners.message);
    worker.off("error", this.#listeners.error);
    worker.off("exit", this.#listeners.exit);
    if (this.#spoiled || this.#pending) await worker.terminate();
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
        void this.#pooled.worker.terminate();
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
      this.#pooled.worker.postMessage({ ...request, key: this.#key, spec: this.#spec });
    });
  }
}
