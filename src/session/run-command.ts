// Runs one command line in its own process group, with a time limit and a way to stop it: what
// the shell tool and the setup script share. Output is kept bounded (first and last parts).
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

const KEEP = 1_000_000;
/** How long a stopped command's guard has to stop everything before its process group is killed. */
const STOP_GRACE_MS = 2_000;

export async function runCommand(options: {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** How the time limit reads in the result, e.g. "timed out after 120s". */
  timeoutReason: string;
  signal?: AbortSignal;
  launch?: Launcher;
}): Promise<CommandResult> {
  const { file, args } = tieToServer((options.launch ?? unsandboxed)(options.command));
  // A session and process group of its own, so stopping it stops everything the command started.
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 2 * KEEP) output = output.slice(0, KEEP) + output.slice(-KEEP);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let stopped: string | undefined;
  let backstop: NodeJS.Timeout | undefined;
  const kill = (pid: number, signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  };
  // SIGTERM asks the guard (see launch.ts) to kill the whole session, also what left the process
  // group; killing the group is the backstop, and all there is where commands run unguarded.
  const stop = (why: string) => {
    if (stopped !== undefined) return;
    stopped = why;
    kill(child.pid!, "SIGTERM");
    backstop = setTimeout(() => kill(-child.pid!, "SIGKILL"), STOP_GRACE_MS);
  };
  const timer = setTimeout(() => stop(options.timeoutReason), options.timeoutMs);
  const onAbort = () => stop("the run was stopped");
  options.signal?.addEventListener("abort", onAbort);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    return { code, output, ...(stopped ? { stopped } : {}) };
  } finally {
    clearTimeout(timer);
    clearTimeout(backstop);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
