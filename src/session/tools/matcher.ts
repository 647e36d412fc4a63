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
// grep's files are also opened and read in the worker, one after the other, with synchronous calls
// that cost microseconds: from the server's thread, each open, stat, read and close would be a
// trip through libuv's thread pool, and those trips, not the matching, made most of a search's
// time. The worker opens each file by the name the caller gives, not following a link in its last
// part (see paths.ts: under Linux the name goes through the directory's open descriptor).
//
// The worker is a short script, not a module file, so it runs the same from the built server and
// from the sources under test.
import { closeSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ToolError } from "../define-tool.js";

const SCRIPT = `
const fs = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
// [0]: which file of a search is being read or matched, for the server to name it if the search
// is stopped; [1]: the descriptor open meanwhile, plus one, for the server to close it then.
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
// At most max bytes of a regular file, or undefined when it is longer; a short read is its end.
const readWhole = (fd, size, max) => {
  let buffer = Buffer.allocUnsafe(Math.min(max, size) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > max) return undefined;
      const bigger = Buffer.allocUnsafe(Math.min(max + 1, buffer.length * 2));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const asked = buffer.length - length;
    const read = fs.readSync(fd, buffer, length, asked, length);
    length += read;
    if (read < asked) return length > max ? undefined : buffer.subarray(0, length);
  }
};
// Reads and matches the files in order, skipping what is not a regular file, is too large, is
// binary, or is a link or gone; stops before a file that would pass the bytes left.
// With globPaths, only the files whose glob path the glob matches.
const search = ({ files: paths, globPaths, maxFileBytes, bytesLeft, limit, width }) => {
  Atomics.store(progress, 0, -1);
  const selected = globPaths === undefined ? undefined : globPaths.map((path) => glob.match(path));
  const files = [];
  let bytes = 0;
  let cut = false;
  for (let i = 0; i < paths.length && !cut; i++) {
    if (selected && !selected[i]) continue;
    Atomics.store(progress, 0, i);
    let fd;
    try {
      fd = fs.openSync(paths[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch {
      continue;
    }
    Atomics.store(progress, 1, fd + 1);
    let content;
    try {
      const stats = fs.fstatSync(fd);
      if (!stats.isFile() || stats.size > maxFileBytes) continue;
      if (bytes + stats.size > bytesLeft) {
        cut = true;
        continue;
      }
      bytes += stats.size;
      content = readWhole(fd, stats.size, maxFileBytes);
    } finally {
      // Forgotten before it is closed: the server never closes a number that may be reused.
      Atomics.store(progress, 1, 0);
      fs.closeSync(fd);
    }
    if (!content || content.subarray(0, 8000).includes(0)) continue;
    const { found, count } = matchLines(decoder.decode(content), limit, width);
    limit -= found.length;
    if (count > 0) files.push({ index: i, found, count });
  }
  return { files, bytes, cut };
};
parentPort.on("message", (request) => {
  try {
    if (request.key !== key) {
      key = undefined;
      // Loaded when first needed: a worker that only ever matches lines starts sooner.
      glob = request.spec.glob === undefined ? undefined : new (require(workerData.minimatch).Minimatch)(request.spec.glob, { dot: true });
      regex = request.spec.regex === undefined ? undefined : new RegExp(request.spec.regex.source, request.spec.regex.flags);
      key = request.key;
    }
    if (request.paths !== undefined) return parentPort.postMessage({ value: request.paths.map((path) => glob.match(path)) });
    if (request.text !== undefined) return parentPort.postMessage({ value: matchLines(request.text, request.limit, request.width) });
    parentPort.postMessage({ value: search(request) });
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
  /** Shared with the worker: see the script. */
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
  return startWorker();
}

function startWorker(): PooledWorker {
  const shared = new SharedArrayBuffer(8);
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

/** Ends a worker, and closes the file it had open when it ended, if any. */
async function stop(pooled: PooledWorker): Promise<void> {
  await pooled.worker.terminate();
  const open = Atomics.exchange(pooled.progress, 1, 0);
  if (open > 0) closeSync(open - 1);
}

let specs = 0;

export interface FileSearch {
  /** With a glob: each file's path as the glob sees it; only the files it matches are searched. */
  globPaths?: string[];
  /** Larger files are skipped. */
  maxFileBytes: number;
  /** The search stops before a file that would take it past this many bytes read. */
  bytesLeft: number;
  /** Most matching lines shown, across the files. */
  limit: number;
  /** Each shown line is cut to this many characters. */
  width: number;
}

export interface FileMatches {
  /** The files with matching lines, by their index in the paths searched. */
  files: Array<LineMatches & { index: number }>;
  /** Bytes of files read. */
  bytes: number;
  /** Whether the search stopped at bytesLeft. */
  cut: boolean;
}

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
  readonly #spec: { glob?: string; regex?: { source: string; flags: string } };
  readonly #key = ++specs;
  readonly #listeners: { message(reply: { value?: unknown; error?: string }): void; error(error: Error): void; exit(): void };
  #pending: Pending | undefined;
  #failed: Error | undefined;
  /** The worker was stopped or failed: it is not kept for another search. */
  #spoiled = false;

  /**
   * A matcher for a glob (files' paths), a regular expression (lines), or both (files chosen by
   * the glob, searched for the lines); stops when `signal` fires.
   */
  constructor(spec: { glob: string } | { regex: RegExp; glob?: string }, signal: AbortSignal) {
    this.#spec = {
      ...(spec.glob === undefined ? {} : { glob: spec.glob }),
      ...("regex" in spec ? { regex: { source: spec.regex.source, flags: spec.regex.flags } } : {}),
    };
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
   * Reads the files at `paths` (a link in the last part is not followed) and finds the lines the
   * regular expression matches, in one exchange with the worker: at most `limit` lines shown
   * across all files. When the search is stopped, `matching` tells which path it was at.
   */
  searchFiles(paths: string[], options: FileSearch): Promise<FileMatches> {
    Atomics.store(this.#pooled.progress, 0, -1);
    return this.#ask({ files: paths, ...options });
  }

  /** The index in the last searchFiles call of the file being read or matched (or the last one); -1 while the glob was choosing them. */
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
      this.#pooled.worker.postMessage({ ...request, key: this.#key, spec: this.#spec });
    });
  }
}
