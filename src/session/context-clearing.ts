// Keeps a long session inside the model's context window. When the prompt passes a threshold, old
// tool results are replaced by a short note (the calls stay, so the model knows what it ran and
// can run it again). Everything after the first changed result leaves the prompt cache, so results
// are cleared in one chunk, down to a lower mark, rather than one at a time: the cache is rebuilt
// once per chunk, not on every turn. Never cleared: the system prompt and tools (not messages),
// the first user message (the task and CLAUDE.md), and the latest tool results.
//
// Or the API does it ("api": the context-management beta's clear_tool_uses edit, with the same
// threshold), for servers that support it; or nothing is cleared ("off").
import type Anthropic from "@anthropic-ai/sdk";

export type ContextMode = "harness" | "api" | "off";

export interface ContextSetting {
  mode: ContextMode;
  /** Prompt tokens (input, cache read and cache write of the last reply) past which old tool results are cleared. */
  clearAtTokens: number;
}

/** Well under a 200k-token window, leaving room for a turn's output and a few large results. */
export const DEFAULT_CONTEXT: ContextSetting = { mode: "harness", clearAtTokens: 100_000 };

/** The latest tool results, never cleared: what the model is working with now. */
export const KEEP_RECENT_RESULTS = 3;

/** A clearing goes down to this share of the threshold, so the next one is many turns away. */
export const CLEAR_DOWN_TO = 0.5;

/** Results shorter than this are left alone: clearing them would free next to nothing. */
const MIN_CLEARED_CHARS = 500;

const CLEARED = "[cleared to save context:";

export const clearedNote = (characters: number, tool: string) => `${CLEARED} ${characters} characters of ${tool} output; run it again if needed]`;

export interface Clearing {
  /** Tool results cleared now. */
  results: number;
  /** Characters of tool output taken out of the prompt (less the notes). */
  characters: number;
  /** Those characters in tokens, as the last prompt's tokens per character estimate them. */
  tokens: number;
}

const textOf = (content: Anthropic.ToolResultBlockParam["content"]): string =>
  typeof content === "string" ? content : (content ?? []).map((block) => (block.type === "text" ? block.text : "")).join("");

/**
 * Clears old tool results in `messages` (in place) when `promptTokens` passes the threshold, until
 * about enough is freed to bring the prompt down to the lower mark. `fixedChars` is the size of
 * what is sent besides the messages (system prompt, tools), for the tokens-per-character estimate.
 * Undefined when nothing was cleared.
 */
export function clearOldToolResults(messages: Anthropic.MessageParam[], promptTokens: number, clearAtTokens: number, fixedChars: number): Clearing | undefined {
  if (promptTokens <= clearAtTokens) return undefined;
  const names = new Map<string, string>();
  const results: Anthropic.ToolResultBlockParam[] = [];
  let chars = fixedChars;
  // The first message (the task, CLAUDE.md) is never looked at for clearing.
  for (const [index, message] of messages.entries()) {
    if (typeof message.content === "string") {
      chars += message.content.length;
      continue;
    }
    for (const block of message.content) {
      if (block.type === "tool_use") names.set(block.id, block.name);
      if (block.type === "tool_result" && index > 0) results.push(block);
      chars += block.type === "text" ? block.text.length : block.type === "tool_result" ? textOf(block.content).length : JSON.stringify(block).length;
    }
  }
  const tokensPerChar = promptTokens / Math.max(1, chars);
  const toFree = promptTokens - clearAtTokens * CLEAR_DOWN_TO;
  const clearing: Clearing = { results: 0, characters: 0, tokens: 0 };
  for (const block of results.slice(0, Math.max(0, results.length - KEEP_RECENT_RESULTS))) {
    if (clearing.tokens >= toFree) break;
    const text = textOf(block.content);
    if (text.length < MIN_CLEARED_CHARS || text.startsWith(CLEARED)) continue;
    const note = clearedNote(text.length, names.get(block.tool_use_id) ?? "tool");
    block.content = note;
    clearing.results += 1;
    clearing.characters += text.length - note.length;
    clearing.tokens = Math.round(clearing.characters * tokensPerChar);
  }
  return clearing.results > 0 ? clearing : undefined;
}

/** The beta the API's own clearing needs. */
export const CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27";

/** The API's clear_tool_uses edit, with the harness's threshold, lower mark and kept results. */
export function apiContextManagement(clearAtTokens: number, keepTools: string[]) {
  return {
    edits: [
      {
        type: "clear_tool_uses_20250919" as const,
        trigger: { type: "input_tokens" as const, value: clearAtTokens },
        keep: { type: "tool_uses" as const, value: KEEP_RECENT_RESULTS },
        // Only worth it (and the cache rebuild) when it brings the prompt down to the lower mark.
        clear_at_least: { type: "input_tokens" as const, value: Math.round(clearAtTokens * (1 - CLEAR_DOWN_TO)) },
        exclude_tools: keepTools,
      },
    ],
  };
}

/**
 * What the loop does about context, per its setting: before each model call, clears old tool
 * results (harness) or adds the API's edit to the request (api); after each reply, notes the
 * prompt's size.
 */
export function contextKeeper(setting: ContextSetting, fixedChars: number, keepTools: string[]) {
  let promptTokens = 0;
  const api = setting.mode === "api";
  return {
    params: api ? { context_management: apiContextManagement(setting.clearAtTokens, keepTools) } : {},
    callOptions: api ? { headers: { "anthropic-beta": CONTEXT_MANAGEMENT_BETA } } : {},
    observe(usage: Anthropic.Usage): void {
      promptTokens = usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
    },
    /** The clearing made now, for the transcript; undefined when none was needed or possible. */
    clear(messages: Anthropic.MessageParam[]): (Clearing & { promptTokens: number; threshold: number }) | undefined {
      if (setting.mode !== "harness") return undefined;
      const cleared = clearOldToolResults(messages, promptTokens, setting.clearAtTokens, fixedChars);
      return cleared && { ...cleared, promptTokens, threshold: setting.clearAtTokens };
    },
  };
}
