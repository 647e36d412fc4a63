import { spawn } from "node:child_process";
import { z } from "zod";
import { defineTool } from "../define-tool.js";

const DEFAULT_TIMEOUT_S = 120;
const MAX_TIMEOUT_S = 600;

export const shell = defineTool({
  name: "shell",
  description: [
    "Run a bash command in the repository's working tree and return its exit code and output (stdout and stderr together).",
    `It stops after timeout_seconds (default ${DEFAULT_TIMEOUT_S}, at most ${MAX_TIMEOUT_S}). Long output is cut in the middle.`,
    "Commands do not run in a terminal: use non-interactive flags. Use the file and search tools to read and edit files.",
  ].join(" "),
  input: z.object({
    command: z.string().min(1).describe("The bash command."),
    timeout_seconds: z.number().int().min(1).max(MAX_TIMEOUT_S).optional().describe("Time limit in seconds."),
  }),
  async execute({ command, timeout_seconds: timeout = DEFAULT_TIMEOUT_S }, { root, env, signal, launch, networkHint }) {
    const { file, args } = launch?.(command) ?? { file: "bash", args: ["-c", command] };
    // A process group of its own, so a timeout stops everything the command started.
    const child = spawn(file, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      // Keep memory bounded: the wrapper cuts to the first and last parts anyway.
      if (output.length < 2_000_000) output += chunk.toString("utf8");
      else output = output.slice(0, 1_000_000) + output.slice(-999_000) + chunk.toString("utf8");
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
    const timer = setTimeout(() => stop(`timed out after ${timeout}s`), timeout * 1000);
    const onAbort = () => stop("the run was stopped");
    signal.addEventListener("abort", onAbort);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    }).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
    const status = stopped ? `Stopped: ${stopped}.` : `Exit code: ${code}.`;
    const hint = code !== 0 ? networkHint?.(output, command) : undefined;
    return { output: `${status}\n${output}`.trimEnd() + (hint ? `\n${hint}` : ""), isError: stopped !== undefined || code !== 0 };
  },
});
