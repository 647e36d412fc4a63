// The agent loop: ask the model, run the tools it calls, hand back the results, until it reports
// the outcome or a limit stops it. Limits are checked before every model call; every step is
// recorded as it happens, so a crash loses nothing.
import { performance } from "node:perf_hooks";
import type Anthropic from "@anthropic-ai/sdk";
import { formatDuration } from "../config/duration.js";
import type { TokenUsage } from "../run-request.js";
import type { LoopBudget } from "./budget.js";
import type { Tool, ToolContext } from "./define-tool.js";
import { callModel, DEFAULT_RETRY, ModelCallError, type RetryPolicy } from "./model-call.js";
import { contextKeeper, DEFAULT_CONTEXT, type ContextSetting } from "./context-clearing.js";
import { dispatchTools, resultBlocks } from "./tool-dispatch.js";
import { OUTCOME_TOOL, OutcomeInput } from "./tools/report-outcome.js";

export type StopReason =
  | "outcome_reported"
  | "end_turn"
  | "max_turns"
  | "max_output_tokens"
  | "refusal"
  | "context_window_exceeded"
  | "timeout"
  | "cancelled"
  | "model_error"
  | "budget";

export interface LoopOptions {
  client: Anthropic;
  model: string;
  system: string;
  prompt: string;
  tools: Tool[];
  maxTurns: number;
  /** Wall-clock limit of the whole run, in milliseconds. */
  timeoutMs: number;
  /** When that limit is reached (epoch ms), when the run started before the loop; default: timeoutMs from now. */
  deadline?: number;
  maxOutputTokens: number;
  /** Where tools run. The loop adds its own signal. */
  toolContext: Omit<ToolContext, "signal">;
  signal?: AbortSignal;
  /** How failed model calls are retried. Default: for about a minute. */
  retry?: RetryPolicy;
  /** Asked before each model call whether it may be made (see budget.ts), and told of each response's usage. */
  budget?: LoopBudget;
  /** How the prompt is kept inside the context window. Default: DEFAULT_CONTEXT. */
  context?: ContextSetting;
  record(kind: string, data: unknown): Promise<void>;
}

export interface LoopResult {
  stopReason: StopReason;
  /** Why, in words, when the session did not end with a reported outcome. */
  detail?: string;
  outcome?: { outcome: "succeeded" | "failed"; summary: string };
  turns: number;
  usage: TokenUsage;
}

const CACHE = { type: "ephemeral" } as const;
/** Replies in a row cut off at the output limit before the session stops: the model is not getting shorter. */
const MAX_CUT_OFFS = 3;

const addUsage = (total: TokenUsage, usage: Anthropic.Usage): TokenUsage => ({
  inputTokens: total.inputTokens + usage.input_tokens,
  cacheReadTokens: total.cacheReadTokens + (usage.cache_read_input_tokens ?? 0),
  cacheWriteTokens: total.cacheWriteTokens + (usage.cache_creation_input_tokens ?? 0),
  outputTokens: total.outputTokens + usage.output_tokens,
});

/** The conversation with one cache breakpoint at its end, so the next turn reads all of it from cache. */
function withBreakpoint(messages: Anthropic.MessageParam[]): Anthropic.MessageParam[] {
  const last = messages[messages.length - 1]!;
  const content = typeof last.content === "string" ? [{ type: "text" as const, text: last.content }] : last.content;
  const marked = content.map((block, i) => (i === content.length - 1 ? { ...block, cache_control: CACHE } : block)) as Anthropic.ContentBlockParam[];
  // Only user and assistant messages are ever built here.
  return [...messages.slice(0, -1), { ...last, content: marked } as Anthropic.MessageParam];
}

export async function runAgentLoop(options: LoopOptions): Promise<LoopResult> {
  const { client, tools, record } = options;
  const deadline = AbortSignal.timeout(Math.max(0, (options.deadline ?? Date.now() + options.timeoutMs) - Date.now()));
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  for (const tool of tools) tool.prepare?.();
  // The stable prefix (system prompt and tools) is cached once and read on every later turn.
  const system: Anthropic.TextBlockParam[] = [{ type: "text", text: options.system, cache_control: CACHE }];
  const toolDefinitions: Anthropic.Tool[] = tools.map((tool, i) => ({
    name: tool.name,
    description: tool.description,
    input_schema: tool.inputSchema as Anthropic.Tool.InputSchema,
    ...(i === tools.length - 1 ? { cache_control: CACHE } : {}),
  }));
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: [{ type: "text", text: options.prompt }] }];
  // Old tool results are cleared as the prompt grows; the outcome tool's calls never are.
  const context = contextKeeper(options.context ?? DEFAULT_CONTEXT, options.system.length + JSON.stringify(toolDefinitions).length, [OUTCOME_TOOL]);
  let usage: TokenUsage = { inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 };
  let turns = 0;
  let cutOffs = 0;
  const stopped = (stopReason: StopReason, detail?: string): LoopResult => ({ stopReason, ...(detail ? { detail } : {}), turns, usage });
  const interruption = () => (deadline.aborted ? stopped("timeout", `the run went on longer than its timeout of ${formatDuration(options.timeoutMs)}`) : stopped("cancelled"));

  while (true) {
    if (signal.aborted) return interruption();
    if (turns >= options.maxTurns) return stopped("max_turns", `the session used all ${options.maxTurns} turns`);
    // Old tool results are cleared first, so the budget weighs the prompt that will be sent.
    const cleared = context.clear(messages);
    if (cleared) await record("context_cleared", { turn: turns + 1, ...cleared });
    const verdict = options.budget?.beforeCall({ system, tools: toolDefinitions, messages, max_tokens: options.maxOutputTokens });
    if (verdict && !verdict.go) return stopped("budget", verdict.detail);
    if (verdict?.note) await addNote(messages, verdict.note, record);
    turns += 1;

    let response: Anthropic.Message;
    const called = performance.now();
    try {
      response = await callModel(
        client,
        { model: options.model, max_tokens: options.maxOutputTokens, system, tools: toolDefinitions, messages: withBreakpoint(messages), ...context.params },
        { signal, retry: options.retry ?? DEFAULT_RETRY, onRetry: (notice) => record("model_retry", { turn: turns, ...notice }), ...context.callOptions },
      );
    } catch (error) {
      if (signal.aborted) return interruption();
      const detail = error instanceof Error ? error.message : String(error);
      const { status, requestId } = error instanceof ModelCallError ? error : {};
      await record("model_error", { turn: turns, latencyMs: Math.round(performance.now() - called), ...(status === undefined ? {} : { status }), ...(requestId ? { requestId } : {}), error: detail });
      return stopped("model_error", detail);
    }
    const latencyMs = Math.round(performance.now() - called);
    usage = addUsage(usage, response.usage);
    const cost = await options.budget?.afterCall(response.usage);
    context.observe(response.usage);
    await record("model_response", {
      turn: turns,
      stopReason: response.stop_reason,
      latencyMs,
      usage: {
        input: response.usage.input_tokens,
        cacheRead: response.usage.cache_read_input_tokens ?? 0,
        cacheWrite: response.usage.cache_creation_input_tokens ?? 0,
        output: response.usage.output_tokens,
      },
      ...cost,
    });
    messages.push({ role: "assistant", content: response.content as Anthropic.ContentBlockParam[] });
    for (const block of response.content) if (block.type === "text" && block.text.trim()) await record("assistant", { text: block.text });
    if (response.stop_reason === "refusal") return stopped("refusal", "the model declined to continue (refusal)");
    if (response.stop_reason === "model_context_window_exceeded") return stopped("context_window_exceeded", "the conversation outgrew the model's context window");

    const calls = response.content.filter((block): block is Anthropic.ToolUseBlock => block.type === "tool_use");
    if (response.stop_reason === "max_tokens") {
      // A cut-off tool call may have lost part of its input: run none, and ask for smaller steps.
      cutOffs += 1;
      await record("reply_cut_off", { turn: turns, limit: options.maxOutputTokens, toolCalls: calls.map((call) => call.name) });
      if (cutOffs >= MAX_CUT_OFFS) return stopped("max_output_tokens", `${MAX_CUT_OFFS} replies in a row reached the limit of ${options.maxOutputTokens} output tokens`);
      messages.push({ role: "user", content: await declineCutOff(calls, options.maxOutputTokens, byName.has("create_file"), record) });
      continue;
    }
    cutOffs = 0;
    if (calls.length === 0) return stopped("end_turn", "the model stopped without reporting an outcome");

    const done = await dispatchTools(calls, { tools: byName, context: { ...options.toolContext, signal }, record });
    const reported = [...done].reverse().find(({ call, result }) => call.name === OUTCOME_TOOL && !result.isError);
    const outcome: LoopResult["outcome"] = reported && OutcomeInput.parse(reported.call.input);
    messages.push({ role: "user", content: resultBlocks(done) });
    if (outcome) return { ...stopped("outcome_reported"), outcome };
  }
}

/** A note for the agent at the end of the next user turn, kept in the conversation (the cache then holds it too). */
async function addNote(messages: Anthropic.MessageParam[], note: string, record: LoopOptions["record"]): Promise<void> {
  const last = messages[messages.length - 1]!;
  const content = typeof last.content === "string" ? [{ type: "text" as const, text: last.content }] : last.content;
  // Only user and assistant messages are ever built here.
  messages[messages.length - 1] = { ...last, content: [...content, { type: "text", text: note }] } as Anthropic.MessageParam;
  await record("system_note", { text: note });
}

/** The answer to a reply cut off at the output limit: each tool call in it refused unrun, or a request to go on. */
async function declineCutOff(
  calls: Anthropic.ToolUseBlock[],
  limit: number,
  canWriteInParts: boolean,
  record: LoopOptions["record"],
): Promise<Anthropic.ContentBlockParam[]> {
  const inParts = canWriteInParts ? " For example, create a large file in parts: create_file with the first part, then insert_lines or edit_file for the rest." : "";
  if (calls.length === 0) return [{ type: "text", text: `Your reply was cut off at the output limit of ${limit} tokens. Continue where you left off, in smaller steps.${inParts}` }];
  const results: Anthropic.ToolResultBlockParam[] = [];
  for (const call of calls) {
    const output = `Your reply was cut off at the output limit of ${limit} tokens, so this ${call.name} call was not executed: its input may be incomplete. Continue in smaller steps.${inParts}`;
    await record("tool_call", { id: call.id, name: call.name, input: call.input, truncated: true });
    await record("tool_result", { id: call.id, name: call.name, output, isError: true });
    results.push({ type: "tool_result", tool_use_id: call.id, content: output, is_error: true });
  }
  return results;
}
