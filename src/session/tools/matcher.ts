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
const glob = workerData.glob === undefined ? undefined : new (require(workerData.minimatch).Minimatch)(workerData.glob, { dot: true });
const regex = workerData.regex === undefined ? undefined : new RegExp(workerData.regex.source, workerData.regex.flags);
parentPort.on("message", (request) => {
  if (request.paths !== undefined) return parentPort.postMessage(request.paths.map((path) => glob.match(path)));
  const lines = request.text.split("\\n");
  const found = [];
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!regex.test(lines[i])) continue;
    count += 1;
    if (found.length < request.limit) found.push([i + 1, lines[i].slice(0, request.width)]);
  }
  parentPort.postMessage({ found, count });
});
`;

const MINIMATCH = createRequire(import.meta.url).resolve("minimatch");
/** Enough for matching a file of a few megabytes; a worker that needs more ends, not the server. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };

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
  readonly #worker: Worker;
  readonly #signal: AbortSignal;
  #pending: Pending | undefined;
  #failed: Error | undefined;

  /** A matcher for a glob (files' paths) or a regular expression (lines); stops when `signal` fires. */
  constructor(spec: { glob: string } | { regex: RegExp }, signal: AbortSignal) {
    const workerData = "glob" in spec ? { glob: spec.glob, minimatch: MINIMATCH } : { regex: { source: spec.regex.source, flags: spec.regex.flags } };
    this.#worker = new Worker(SCRIPT, { eval: true, workerData, resourceLimits: RESOURCE_LIMITS });
    this.#signal = signal;
    // Listened to from the start: an error with no listener (a glob the worker cannot compile)
    // would be thrown in the server's thread.
    this.#worker.on("message", (value: unknown) => this.#settle((pending) => pending.resolve(value)));
    this.#worker.on("error", (error: Error) => this.#fail(failure(error)));
    this.#worker.on("exit", () => this.#fail(new ToolError("the pattern's matcher ended unexpectedly")));
  }

  /** Which of these paths the glob matches. */
  select(paths: string[]): Promise<boolean[]> {
    return this.#ask({ paths });
  }

  /** The lines of `text` the regular expression matches: at most `limit` shown, each cut to `width` characters. */
  lines(text: string, limit: number, width: number): Promise<LineMatches> {
    return this.#ask({ text, limit, width });
  }

  /** Ends the worker; call when done. */
  async close(): Promise<void> {
    this.#failed ??= new ToolError("the matcher is closed");
    await this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    this.#settle((pending) => pending.reject(error));
  }

  #settle(how: (pending: Pending) => void): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) how(pending);
  }

  #ask<T>(request: unknown): Promise<T> {
    const signal = this.#signal;
    return new Promise<T>((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      if (signal.aborted) return reject(new MatchStopped());
      const onAbort = () => {
        this.#fail(new MatchStopped());
        void this.#worker.terminate();
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
      this.#worker.postMessage(request);
    });
  }
}
