// Runs the tool calls of one model turn. Consecutive calls of read-only tools (view, grep, glob,
// issue reads, connector tools marked read-only) run at once, since none can change what another
// sees; every other call runs alone, in its place, after the calls before it have finished. The
// results go back in the order of the calls, and the transcript shows calls and results in that
// order too: a group's calls are recorded before it starts, its results once it has finished.
import type Anthropic from "@anthropic-ai/sdk";
import type { Tool, ToolContext, ToolResult } from "./define-tool.js";

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface DispatchOptions {
  tools: ReadonlyMap<string, Tool>;
  context: ToolContext;
  record(kind: string, data: unknown): Promise<void>;
}

/** The calls in groups: a run of read-only calls, or one call of any other tool (unknown names included). */
export function groupCalls(calls: readonly ToolCall[], tools: ReadonlyMap<string, Tool>): ToolCall[][] {
  const groups: ToolCall[][] = [];
  let reads: ToolCall[] | undefined;
  for (const call of calls) {
    if (tools.get(call.name)?.readOnly) {
      if (!reads) groups.push((reads = []));
      reads.push(call);
    } else {
      reads = undefined;
      groups.push([call]);
    }
  }
  return groups;
}

/** Runs `calls` and returns one result per call, in the order of the calls. */
export async function dispatchTools(calls: readonly ToolCall[], options: DispatchOptions): Promise<Array<{ call: ToolCall; result: ToolResult }>> {
  const { tools, context, record } = options;
  const run = (call: ToolCall): Promise<ToolResult> => {
    const tool = tools.get(call.name);
    if (!tool) return Promise.resolve({ output: `There is no tool named ${call.name}. Use one of: ${[...tools.keys()].join(", ")}.`, isError: true });
    return tool.run(call.input, context);
  };
  const done: Array<{ call: ToolCall; result: ToolResult }> = [];
  for (const group of groupCalls(calls, tools)) {
    for (const call of group) await record("tool_call", { id: call.id, name: call.name, input: call.input });
    const results = await Promise.all(group.map(run));
    for (const [i, call] of group.entries()) {
      const result = results[i]!;
      await record("tool_result", { id: call.id, name: call.name, output: result.output, isError: result.isError ?? false, ...(result.published === undefined ? {} : { published: result.published }) });
      done.push({ call, result });
    }
  }
  return done;
}

/** The results as the model gets them. */
export const resultBlocks = (done: ReadonlyArray<{ call: ToolCall; result: ToolResult }>): Anthropic.ToolResultBlockParam[] =>
  done.map(({ call, result }) => ({ type: "tool_result", tool_use_id: call.id, content: result.output, ...(result.isError ? { is_error: true } : {}) }));
