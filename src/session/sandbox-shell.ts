// One sandbox per run: the sandbox, its filtering proxies and a dispatcher inside it (see
// sandbox-dispatcher.ts) start once, and every command of the run is fed to it, instead of a new
// sandbox-runtime process, proxies and bubblewrap per command. What a command gets is what it got
// alone: the same filesystem and network policy (the sandbox is the same), the run's environment
// (given to the dispatcher only, so that nothing outside the sandbox runs with it), its control
// group and limits (the sandbox starts inside them), a time limit, output kept to its
// first and last parts, and nothing it starts outlives it: each command has a PID namespace of its
// own, which the kernel empties when its shell ends or is killed, so background processes do not
// carry over to the next command (unlike an interactive shell's jobs). The sandbox is tied to the
// server like any command (launch.ts) and ends with the run: close() at its end, the guard when
// the server dies. A sandbox that ends early (killed for memory) fails the command it ran, and the
// next command starts a new one.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { startingEnvironment, tieToServer, type Launcher } from "./launch.js";
import { outputCollector, signalProcess, stderrToStdout, STOP_GRACE_MS, type CommandRequest, type CommandResult, type CommandRunner } from "./run-command.js";
import { sandboxDispatcher, type CommandPrograms } from "./sandbox-dispatcher.js";

export class SandboxStartError extends Error {
  override name = "SandboxStartError";
}

export interface SandboxShell extends CommandRunner {
  /** Starts the sandbox now, so that the first command finds it ready; a failure shows at that command. */
  prepare(): void;
  /** Stops what runs, ends the sandbox and waits until it is gone. Commands after it are refused. */
  close(): Promise<void>;
}

/** How long the sandbox may take to start: srt sets up its proxies, bubblewrap its mounts. */
const START_TIMEOUT_MS = 60_000;
/** How much of the sandbox's own error output is kept, for a message when it ends. */
const STDERR_KEEP = 4_000;

interface Pending {
  data(chunk: Buffer): void;
  done(code: number | null, failure?: string): void;
}

/** One running sandbox with its dispatcher. */
class Sandbox {
  readonly ready: Promise<void>;
  readonly gone: Promise<void>;
  readonly pending = new Map<number, Pending>();
  #child: ChildProcessWithoutNullStreams;
  #stderr = "";
  #ended = false;

  constructor(launch: Launcher, cwd: string, env: Record<string, string>, programs: CommandPrograms) {
    const { file, args } = tieToServer(launch(`exec ${quote(process.execPath)} --input-type=module --eval ${quote(sandboxDispatcher(programs))}`));
    // A session and process group of its own, like any command: the guard stops all of it. The
    // run's environment goes only to the dispatcher, for its commands (see sandbox-dispatcher.ts).
    // What starts the sandbox gets the starting environment alone (see launch.ts).
    const base = startingEnvironment(env);
    this.#child = spawn(file, args, { cwd, env: base, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stdin.on("error", () => undefined);
    this.#child.stdin.write(`${JSON.stringify({ env, base })}\n`);
    this.#child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-STDERR_KEEP);
    });
    let started!: () => void;
    let failed!: (error: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    // Nobody may be waiting yet (prepare()): the failure shows at the first command.
    this.ready.catch(() => undefined);
    const startTimer = setTimeout(() => {
      failed(new SandboxStartError(`the run's sandbox did not start within ${START_TIMEOUT_MS / 1000}s${this.#why()}`));
      this.kill();
    }, START_TIMEOUT_MS);
    createInterface({ input: this.#child.stdout, crlfDelay: Infinity }).on("line", (line) => {
      const message = parse(line);
      if (!message) return;
      if (message.ready) {
        clearTimeout(startTimer);
        started();
        return;
      }
      const pending = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
      if (!pending) return;
      if (typeof message.data === "string") pending.data(Buffer.from(message.data, "base64"));
      else if (typeof message.code === "number") pending.done(message.code);
      else if (typeof message.error === "string") pending.done(null, `the command could not start in the run's sandbox: ${message.error}`);
    });
    this.gone = new Promise<void>((resolve) => {
      const end = (error?: Error) => {
        if (this.#ended) return;
        this.#ended = true;
        clearTimeout(startTimer);
        const why = error ? `: ${error.message}` : this.#why();
        failed(new SandboxStartError(`the run's sandbox could not start${why}`));
        for (const pending of this.pending.values()) pending.done(null, `the run's sandbox ended while the command ran${why}`);
        this.pending.clear();
        resolve();
      };
      this.#child.on("error", end);
      this.#child.on("close", () => end());
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  send(message: Record<string, unknown>): void {
    if (!this.#ended) this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** Ends the dispatcher (which stops its commands) and lets srt clean up; the guard, then the group, when that takes too long. */
  async close(): Promise<void> {
    this.#child.stdin.end();
    if (await settlesWithin(this.gone, STOP_GRACE_MS)) return;
    this.kill();
    await this.gone;
  }

  /** Stops the sandbox at once: the guard kills its whole session, the group kill is the backstop. */
  kill(): void {
    if (this.#ended) return;
    const pid = this.#child.pid;
    if (pid === undefined) return;
    signalProcess(pid, "SIGTERM");
    setTimeout(() => {
      if (!this.#ended) signalProcess(-pid, "SIGKILL");
    }, STOP_GRACE_MS).unref();
  }

  #why(): string {
    const text = this.#stderr.trim().split("\n").slice(-3).join(" ").trim();
    return text ? ` (${text})` : "";
  }
}

/**
 * The run's commands, all in one sandbox started by `launch` (a sandbox launcher, inside the run's
 * limits) in `env`; `cwd` is where srt is started, each command gets its own. `programs` give each
 * command its namespaces (see commandPrograms in sandbox.ts).
 */
export function sandboxShell(options: { launch: Launcher; cwd: string; env: Record<string, string>; programs: CommandPrograms }): SandboxShell {
  let current: Sandbox | undefined;
  let closed = false;
  let nextId = 0;
  const sandbox = () => {
    if (!current || current.ended) current = new Sandbox(options.launch, options.cwd, options.env, options.programs);
    return current;
  };

  const run = async (request: CommandRequest): Promise<CommandResult> => {
    if (closed) throw new SandboxStartError("the run's sandbox is closed: the run has ended");
    const box = sandbox();
    const id = ++nextId;
    const output = outputCollector();
    return new Promise<CommandResult>((resolve, reject) => {
      let stopped: string | undefined;
      let sent = false;
      let settled = false;
      let backstop: NodeJS.Timeout | undefined;
      const finish = (result: CommandResult | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(backstop);
        request.signal?.removeEventListener("abort", onAbort);
        box.pending.delete(id);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const result = (code: number | null, failure?: string): CommandResult => {
        const text = output.text();
        return { code: stopped || failure ? null : code, output: text, ...(stopped || failure ? { stopped: stopped ?? failure! } : {}) };
      };
      const stop = (why: string) => {
        if (stopped !== undefined || settled) return;
        stopped = why;
        if (!sent) return finish(result(null));
        box.send({ id, stop: true });
        // A dispatcher that does not answer is of no more use: the sandbox goes, and the next command gets a new one.
        backstop = setTimeout(() => {
          box.kill();
          finish(result(null));
        }, STOP_GRACE_MS);
      };
      const timer = setTimeout(() => stop(request.timeoutReason), request.timeoutMs);
      const onAbort = () => stop("the run was stopped");
      if (request.signal?.aborted) onAbort();
      request.signal?.addEventListener("abort", onAbort);
      box.pending.set(id, { data: output.add, done: (code, failure) => finish(result(code, failure)) });
      box.ready.then(
        () => {
          if (settled) return;
          sent = true;
          box.send({ id, command: stderrToStdout(request.command), cwd: request.cwd });
        },
        (error: Error) => finish(error),
      );
    });
  };

  return {
    run,
    prepare() {
      if (!closed) sandbox();
    },
    async close() {
      closed = true;
      await current?.close();
    },
  };
}

function parse(line: string): { ready?: boolean; id?: number; data?: string; code?: number; error?: string } | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as ReturnType<typeof parse>) : undefined;
  } catch {
    return undefined;
  }
}

/** A word for bash: single-quoted. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
