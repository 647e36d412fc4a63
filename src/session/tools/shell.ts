import { z } from "zod";
import { defineTool } from "../define-tool.js";
import { processRunner } from "../run-command.js";

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
  async execute({ command, timeout_seconds: timeout = DEFAULT_TIMEOUT_S }, { root, env, signal, commands, networkHint }) {
    const { code, stopped, output } = await (commands ?? processRunner(env)).run({
      command,
      cwd: root,
      signal,
      timeoutMs: timeout * 1000,
      timeoutReason: `timed out after ${timeout}s`,
    });
    const status = stopped ? `Stopped: ${stopped}.` : `Exit code: ${code}.`;
    const hint = code !== 0 ? networkHint?.(output, command) : undefined;
    return { output: `${status}\n${output}`.trimEnd() + (hint ? `\n${hint}` : ""), isError: stopped !== undefined || code !== 0 };
  },
});
