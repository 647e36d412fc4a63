import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { apiContextManagement, clearedNote, clearOldToolResults, KEEP_RECENT_RESULTS } from "../../src/session/context-clearing.js";

/** A conversation: the task, then `outputs.length` turns each calling one tool whose result has that many characters. */
function conversation(outputs: number[]): Anthropic.MessageParam[] {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: [{ type: "text", text: `The task. ${"CLAUDE.md says things. ".repeat(100)}` }] }];
  outputs.forEach((size, i) => {
    messages.push({ role: "assistant", content: [{ type: "text", text: `Step ${i}.` }, { type: "tool_use", id: `call-${i}`, name: i % 2 ? "grep" : "view", input: { path: `file-${i}` } }] });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `call-${i}`, content: String(i % 10).repeat(size) }] });
  });
  return messages;
}

const results = (messages: Anthropic.MessageParam[]) =>
  messages.flatMap((message) => (typeof message.content === "string" ? [] : message.content.filter((block) => block.type === "tool_result"))) as Anthropic.ToolResultBlockParam[];
const charsOf = (messages: Anthropic.MessageParam[]) => JSON.stringify(messages).length;

describe("clearing old tool results", () => {
  it("leaves a prompt under the threshold alone", () => {
    const messages = conversation([4000, 4000, 4000, 4000, 4000, 4000]);
    const before = JSON.stringify(messages);
    expect(clearOldToolResults(messages, 9_999, 10_000, 0)).toBeUndefined();
    expect(JSON.stringify(messages)).toBe(before);
  });

  it("clears the oldest results in one chunk down to half the threshold, keeping the calls, the task and the latest results", () => {
    const messages = conversation([4000, 4000, 300, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
    const task = JSON.stringify(messages[0]);
    const calls = JSON.stringify(messages.filter((message) => message.role === "assistant"));
    // About 4 characters a token: the prompt is ~10 000 tokens, over a threshold of 9 000; the lower mark is 4 500.
    const prompt = Math.round(charsOf(messages) / 4);
    const cleared = clearOldToolResults(messages, prompt, 9_000, 0)!;
    const after = results(messages);
    // 10 000 - 4 500 = 5 500 tokens to free: six results of ~1 000 tokens each, the short one skipped.
    expect(cleared.results).toBe(6);
    expect(cleared.tokens).toBeGreaterThanOrEqual(prompt - 4_500);
    expect(cleared.characters).toBe(after.slice(0, 7).reduce((sum, block, i) => sum + (i === 2 ? 0 : 4000 - String(block.content).length), 0));
    expect(after[0]!.content).toBe(clearedNote(4000, "view"));
    expect(after[1]!.content).toBe("[cleared to save context: 4000 characters of grep output; run it again if needed]");
    expect(after[2]!.content).toBe("2".repeat(300));
    expect(after.slice(7).map((block) => String(block.content).length)).toEqual([4000, 4000, 4000]);
    expect(JSON.stringify(messages[0])).toBe(task);
    expect(JSON.stringify(messages.filter((message) => message.role === "assistant"))).toBe(calls);
  });

  it(`never clears the latest ${KEEP_RECENT_RESULTS} results, however large the prompt, nor a result twice`, () => {
    const messages = conversation([50_000, 50_000, 50_000, 50_000]);
    const first = clearOldToolResults(messages, 1_000_000, 10_000, 0)!;
    expect(first.results).toBe(1);
    expect(results(messages).map((block) => String(block.content).length)).toEqual([clearedNote(50_000, "view").length, 50_000, 50_000, 50_000]);
    expect(clearOldToolResults(messages, 1_000_000, 10_000, 0)).toBeUndefined();
  });

  it("counts what else is sent (system prompt, tools) when it turns characters into tokens", () => {
    const messages = conversation([4000, 4000, 4000, 4000, 4000, 4000]);
    const chars = charsOf(messages);
    // Half the prompt is outside the messages: each character of a result is worth half as many tokens.
    const alone = clearOldToolResults(structuredClone(messages), chars / 4, chars / 8, 0)!;
    const withFixed = clearOldToolResults(structuredClone(messages), chars / 4, chars / 8, chars)!;
    expect(withFixed.tokens / withFixed.characters).toBeLessThan((alone.tokens / alone.characters) * 0.6);
  });

  it("asks the API for the same: clear tool uses past the threshold, down to half of it, keeping the latest and the outcome", () => {
    expect(apiContextManagement(100_000, ["report_outcome"])).toEqual({
      edits: [
        {
          type: "clear_tool_uses_20250919",
          trigger: { type: "input_tokens", value: 100_000 },
          keep: { type: "tool_uses", value: KEEP_RECENT_RESULTS },
          clear_at_least: { type: "input_tokens", value: 50_000 },
          exclude_tools: ["report_outcome"],
        },
      ],
    });
  });
});
