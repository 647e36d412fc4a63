// Runs one command line in its own process group, with a time limit and a way to stop it: what
// the shell tool and the setup script share. Output is kept bounded (first and last parts).
import { spawn } from "node:child_process";
import type { Launcher } from "./sandbox.js";

export interface CommandResult {
  /** Exit code; null when stopped. */
  code: number | null;
  /** Why it was stopped (time limit, run stopped), if it was. */
  stopped?: string;
  /** stdout and stderr together. */
  output: string;
}

const KEEP = 1_000_000;

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
  const { file, args } = options.launch?.(options.command) ?? { file: "bash", args: ["-c", options.command] };
  // A process group of its own, so stopping it stops everything the command started.
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 2 * KEEP) output = output.slice(0, KEEP) + output.slice(-KEEP);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let stopped: string | undefined;
  const stop = (why: string) => {
    stopped ??= why;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
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
    options.signal?.removeEventListener("abort", onAbort);
  }
}
