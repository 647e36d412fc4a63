// Runs one command line in its own process group, with a time limit and a way to stop it: what
// the shell tool and the setup script share when commands do not run in a run's sandbox (see
// sandbox-shell.ts for those that do). Output is kept bounded (first and last parts).
import { spawn } from "node:child_process";
import { tieToServer, unsandboxed, type Launcher } from "./launch.js";

export interface CommandResult {
  /** Exit code; null when stopped. */
  code: number | null;
  /** Why it was stopped (time limit, run stopped), if it was. */
  stopped?: string;
  /** stdout and stderr together. */
  output: string;
}

export interface CommandRequest {
  command: string;
  cwd: string;
  timeoutMs: number;
  /** How the time limit reads in the result, e.g. "timed out after 120s". */
  timeoutReason: string;
  signal?: AbortSignal;
}

/** Where a run's commands run: each a process of its own, or all in the run's sandbox. Its environment is the runner's. */
export interface CommandRunner {
  run(request: CommandRequest): Promise<CommandResult>;
}

const KEEP = 1_000_000;
/** How long a stopped command's guard has to stop everything before its process group is killed. */
export const STOP_GRACE_MS = 2_000;

/** Output as it comes, kept to its first and last million characters. */
export function outputCollector(): { add(chunk: Buffer): void; text(): string } {
  let output = "";
  return {
    add(chunk) {
      output += chunk.toString("utf8");
      if (output.length > 2 * KEEP) output = output.slice(0, KEEP) + output.slice(-KEEP);
    },
    text: () => output,
  };
}

/**
 * The command line with its stderr sent where its stdout goes, as a terminal shows them: two pipes
 * read apart lose the order between them (a loop's errors all came after all its output). On the
 * command's first line, so that bash numbers its lines as written; a first line bash cannot parse
 * never runs the redirection, and what bash says of it comes on stderr, which is read too.
 */
export const stderrToStdout = (command: string) => `exec 2>&1; ${command}`;

/** Runs each command as a process of its own, started by `launch`, in `env`. */
export function processRunner(env: Record<string, string>, launch: Launcher = unsandboxed): CommandRunner {
  return { run: (request) => runCommand({ ...request, env, launch }) };
}

export async function runCommand(options: CommandRequest & { env: Record<string, string>; launch?: Launcher }): Promise<CommandResult> {
  const { file, args } = tieToServer((options.launch ?? unsandboxed)(stderrToStdout(options.command)));
  // A session and process group of its own, so stopping it stops everything the command started.
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const output = outputCollector();
  child.stdout.on("data", output.add);
  child.stderr.on("data", output.add);
  let stopped: string | undefined;
  let backstop: NodeJS.Timeout | undefined;
  // SIGTERM asks the guard (see launch.ts) to kill the whole session, also what left the process
  // group; killing the group is the backstop, and all there is where commands run unguarded.
  const stop = (why: string) => {
    if (stopped !== undefined) return;
    stopped = why;
    signalProcess(child.pid!, "SIGTERM");
    backstop = setTimeout(() => signalProcess(-child.pid!, "SIGKILL"), STOP_GRACE_MS);
  };
  const timer = setTimeout(() => stop(options.timeoutReason), options.timeoutMs);
  const onAbort = () => stop("the run was stopped");
  options.signal?.addEventListener("abort", onAbort);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    return { code, output: output.text(), ...(stopped ? { stopped } : {}) };
  } finally {
    clearTimeout(timer);
    clearTimeout(backstop);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Sends `signal` to a process (or, with a negative id, a process group) that may be gone already. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
