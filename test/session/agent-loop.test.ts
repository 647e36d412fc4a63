import { mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { afterEach, describe, expect, it } from "vitest";
import { runAgentLoop, type LoopOptions } from "../../src/session/agent-loop.js";
import { defineTool } from "../../src/session/define-tool.js";
import { grep } from "../../src/session/tools/grep.js";
import { reportOutcome } from "../../src/session/tools/report-outcome.js";
import { view } from "../../src/session/tools/view.js";
import { startFakeModel, type FakeModel, type ScriptedTurn } from "../support/fake-model.js";

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

async function workTree() {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-loop-")));
  await writeFile(join(root, "README.md"), "# Demo\n\nRun npm test.\n");
  await writeFile(join(root, "index.js"), "export const answer = 42;\n// TODO: explain\n");
  return root;
}

async function loop(script: ScriptedTurn[], options: Partial<LoopOptions> = {}) {
  model = await startFakeModel(script);
  const events: Array<[string, unknown]> = [];
  const result = await runAgentLoop({
    client: new Anthropic({ apiKey: "test-model-key", baseURL: model.url, maxRetries: 3 }),
    model: "claude-test",
    system: "You are a careful engineer.",
    prompt: "Find the TODO.",
    tools: [view, grep, reportOutcome],
    maxTurns: 10,
    timeoutMs: 10_000,
    maxOutputTokens: 4096,
    toolContext: { root: await workTree(), env: {} },
    record: async (kind, data) => void events.push([kind, data]),
    ...options,
  });
  return { result, events, requests: model.requests };
}

const tool = (name: string, input: unknown) => ({ type: "tool_use" as const, name, input });
const done = { content: [tool("report_outcome", { outcome: "succeeded", summary: "Found the TODO in index.js." })] };

describe("runAgentLoop", () => {
  it("runs tools until the outcome is reported, caching the stable prefix and the conversation", async () => {
    const { result, events, requests } = await loop([
      { content: [{ type: "text", text: "Let me look." }, tool("view", { path: "index.js" })] },
      { content: [tool("grep", { pattern: "TODO" })] },
      done,
    ]);
    expect(result).toMatchObject({ stopReason: "outcome_reported", turns: 3, outcome: { outcome: "succeeded", summary: "Found the TODO in index.js." } });

    const [first, second, third] = requests.map((request) => request.body);
    expect(first.tools.map((t: { name: string }) => t.name)).toEqual(["view", "grep", "report_outcome"]);
    expect(first.system).toEqual([{ type: "text", text: "You are a careful engineer.", cache_control: { type: "ephemeral" } }]);
    expect(first.tools.at(-1).cache_control).toEqual({ type: "ephemeral" });
    expect(first.tools[0].cache_control).toBeUndefined();
    expect(first.max_tokens).toBe(4096);
    // One moving breakpoint at the end of the conversation.
    expect(second.messages.at(-1).content.at(-1)).toMatchObject({ type: "tool_result", content: "1\texport const answer = 42;\n2\t// TODO: explain\n3\t", cache_control: { type: "ephemeral" } });
    expect(second.messages[0].content[0].cache_control).toBeUndefined();
    expect(third.messages.at(-1).content[0].content).toBe("index.js:2: // TODO: explain");

    // From the second turn on, most input tokens are cache reads.
    const turns = events.filter(([kind]) => kind === "model_response").map(([, data]) => (data as { usage: { cacheRead: number; cacheWrite: number } }).usage);
    expect(turns[0]!.cacheRead).toBe(0);
    for (const turn of turns.slice(1)) expect(turn.cacheRead).toBeGreaterThan(turn.cacheWrite);
    expect(result.usage.cacheReadTokens).toBe(turns.reduce((sum, turn) => sum + turn.cacheRead, 0));
    expect(events.map(([kind]) => kind)).toEqual([
      "model_response", "assistant", "tool_call", "tool_result",
      "model_response", "tool_call", "tool_result",
      "model_response", "tool_call", "tool_result",
    ]);
  });

  it("stops at max_turns, with the reason", async () => {
    const { result } = await loop(Array.from({ length: 5 }, () => ({ content: [tool("view", { path: "." })] })), { maxTurns: 3 });
    expect(result).toMatchObject({ stopReason: "max_turns", detail: "the session used all 3 turns", turns: 3 });
  });

  it("stops at the wall-clock timeout", async () => {
    const { result } = await loop([{ content: [tool("view", { path: "." })], delayMs: 2_000 }], { timeoutMs: 200 });
    expect(result).toMatchObject({ stopReason: "timeout", detail: "the session ran longer than 200ms" });
  });

  it("stops when a reply reaches the output limit", async () => {
    const { result } = await loop([{ content: [{ type: "text", text: "A very long" }], stop_reason: "max_tokens" }], { maxOutputTokens: 5 });
    expect(result).toMatchObject({ stopReason: "max_output_tokens", detail: "a reply reached the limit of 5 output tokens" });
  });

  it("retries an overloaded model", async () => {
    const { result, requests } = await loop([{ error: { status: 529, type: "overloaded_error", message: "Overloaded" } }, { error: { status: 429, type: "rate_limit_error", message: "slow down" } }, done]);
    expect(result.stopReason).toBe("outcome_reported");
    expect(requests).toHaveLength(3);
  });

  it("ends with the model's error when retrying does not help", async () => {
    const { result } = await loop([{ error: { status: 400, type: "invalid_request_error", message: "prompt is too long" } }]);
    expect(result.stopReason).toBe("model_error");
    expect(result.detail).toContain("prompt is too long");
  });

  it("ends when the model stops without an outcome", async () => {
    const { result } = await loop([{ content: [{ type: "text", text: "All done, I think." }] }]);
    expect(result).toMatchObject({ stopReason: "end_turn", detail: "the model stopped without reporting an outcome" });
    expect(result.outcome).toBeUndefined();
  });

  it("turns a failing tool, bad input and an unknown tool into errors the model reads, and goes on", async () => {
    const broken = defineTool({
      name: "broken",
      description: "Always fails.",
      input: z.object({}),
      async execute() {
        throw new Error("disk on fire");
      },
    });
    const { result, requests } = await loop(
      [{ content: [tool("broken", {}), tool("view", { line: 3 }), tool("deploy", {})] }, done],
      { tools: [view, broken, reportOutcome] },
    );
    expect(result.stopReason).toBe("outcome_reported");
    const results = requests[1]!.body.messages.at(-1).content;
    expect(results.map((block: { is_error?: boolean }) => block.is_error)).toEqual([true, true, true]);
    expect(results[0].content).toBe("broken failed: disk on fire");
    expect(results[1].content).toMatch(/^Invalid input for view: path: /);
    expect(results[2].content).toBe("There is no tool named deploy. Use one of: view, broken, report_outcome.");
  });

  it("sends the key both ways the API accepts, and never in the transcript", async () => {
    const { events, requests } = await loop([done]);
    const header = requests[0]!.headers;
    expect(header["x-api-key"] === "test-model-key" || header.authorization === "Bearer test-model-key").toBe(true);
    expect(JSON.stringify(events)).not.toContain("test-model-key");
  });
});
