// A tool is a schema, a description and an execute function. The wrapper does what every tool
// needs: check the input and tell the model how to fix it, turn a thrown error into a tool error
// the model can read, and cut long output to its first and last parts.
import { z } from "zod";
import type { CommandRunner } from "./run-command.js";

export interface ToolContext {
  /** The working tree; file tools stay inside it. */
  root: string;
  signal: AbortSignal;
  /** The environment commands get: built from an allowlist, never the server's own. */
  env: Record<string, string>;
  /** Where commands run: in the run's sandbox, or each its own process; without it, plain bash in `env`. */
  commands?: CommandRunner;
  /** Explains output that shows the network policy blocked a connection made by `command`. */
  networkHint?: (output: string, command: string) => string | undefined;
}

export interface ToolResult {
  output: string;
  isError?: boolean;
  /** A publishing tool's call that went through but left nothing on GitHub (a review whose findings were all dropped): false. */
  published?: boolean;
}

export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the input, as the model sees it. */
  inputSchema: Record<string, unknown>;
  /** Reads and changes nothing, so several calls of it may run at once (see tool-dispatch.ts). */
  readOnly?: boolean;
  /** Prepares what the tool's first call needs (started as the session starts, not awaited). */
  prepare?(): void;
  run(input: unknown, context: ToolContext): Promise<ToolResult>;
}

/** Most characters of one tool result; more is cut in the middle. */
export const MAX_OUTPUT = 30_000;

export function truncate(text: string, limit = MAX_OUTPUT): string {
  if (text.length <= limit) return text;
  const keep = Math.floor((limit - 100) / 2);
  return `${text.slice(0, keep)}\n\n[… ${text.length - 2 * keep} characters cut …]\n\n${text.slice(-keep)}`;
}

export class ToolError extends Error {
  override name = "ToolError";
}

export function defineTool<S extends z.ZodType>(definition: {
  name: string;
  description: string;
  input: S;
  readOnly?: boolean;
  prepare?(): void;
  execute(input: z.output<S>, context: ToolContext): Promise<string | ToolResult>;
}): Tool {
  const { name, description, input, execute } = definition;
  return {
    name,
    description,
    inputSchema: z.toJSONSchema(input, { io: "input" }) as Record<string, unknown>,
    ...(definition.readOnly ? { readOnly: true } : {}),
    ...(definition.prepare ? { prepare: definition.prepare } : {}),
    async run(raw, context) {
      const parsed = input.safeParse(raw);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "input"}: ${issue.message}`).join("; ");
        return { output: `Invalid input for ${name}: ${problems}. Call ${name} again with input that matches its schema.`, isError: true };
      }
      try {
        const result = await execute(parsed.data, context);
        const { output, isError, published } = typeof result === "string" ? { output: result, isError: false, published: undefined } : result;
        return { output: truncate(output), ...(isError ? { isError } : {}), ...(published === undefined ? {} : { published }) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { output: `${name} failed: ${message}`, isError: true };
      }
    },
  };
}
