import { access, mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { afterEach, describe, expect, it } from "vitest";
import { runAgentLoop, type LoopOptions } from "../../src/session/agent-loop.js";
import { defineTool } from "../../src/session/define-tool.js";
import { createFile } from "../../src/session/tools/create-file.js";
import { grep } from "../../src/session/tools/grep.js";
import { reportOutcome } from "../../src/session/tools/report-outcome.js";
import { view } from "../../src/session/tools/view.js";
import { MODEL_KEY, startFakeModel, type FakeModel, type ScriptedTurn } from "../support/fake-model.js";

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

async function loop(script: ScriptedTurn[] | ((index: number) => ScriptedTurn), options: Partial<LoopOptions> & { key?: string; fetch?: typeof fetch } = {}) {
  model = await startFakeModel(script);
  const events: Array<[string, unknown]> = [];
  const { key = MODEL_KEY, fetch, ...loopOptions } = options;
  const root = await workTree();
  const result = await runAgentLoop({
    client: new Anthropic({ apiKey: key, baseURL: model.url, maxRetries: 3, ...(fetch ? { fetch } : {}) }),
    model: "claude-test",
    system: "You are a careful engineer.",
    prompt: "Find the TODO.",
    tools: [view, grep, reportOutcome],
    maxTurns: 10,
    timeoutMs: 10_000,
    maxOutputTokens: 4096,
    toolContext: { root, env: {} },
    // Small waits keep retry tests fast; a script that runs out answers 500, which is retried.
    retry: { budgetMs: 300, baseDelayMs: 5 },
    record: async (kind, data) => void events.push([kind, data]),
    ...loopOptions,
  });
  return { result, events, requests: model.requests, root };
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
    expect(result).toMatchObject({ stopReason: "timeout", detail: "the run went on longer than its timeout of 200ms" });
  });

  it("streams every model call, so a large output limit works", async () => {
    const { result, requests } = await loop([done], { maxOutputTokens: 64_000 });
    expect(result.stopReason).toBe("outcome_reported");
    expect(requests[0]!.body).toMatchObject({ stream: true, max_tokens: 64_000 });
  });

  it("never runs a tool call cut off at the output limit, and tells the model to go on in smaller steps", async () => {
    const input = { path: "big.txt", content: "line\n".repeat(50) };
    // Cut before the closing brace: the partial input parses to a complete-looking call.
    const cut = { content: [{ type: "text" as const, text: "Writing it." }, tool("create_file", input)], stop_reason: "max_tokens" as const, truncateInputAt: JSON.stringify(input).length - 1 };
    const { result, events, requests, root } = await loop([cut, done], { tools: [view, createFile, reportOutcome] });
    expect(result).toMatchObject({ stopReason: "outcome_reported", turns: 2 });
    await expect(access(join(root, "big.txt"))).rejects.toThrow();

    const answer = requests[1]!.body.messages.at(-1).content[0];
    expect(answer).toMatchObject({ type: "tool_result", is_error: true });
    expect(answer.content).toBe(
      "Your reply was cut off at the output limit of 4096 tokens, so this create_file call was not executed: its input may be incomplete. Continue in smaller steps. For example, create a large file in parts: create_file with the first part, then insert_lines or edit_file for the rest.",
    );
    expect(events.filter(([kind]) => kind !== "model_response").slice(0, 4)).toEqual([
      ["assistant", { text: "Writing it." }],
      ["reply_cut_off", { turn: 1, limit: 4096, toolCalls: ["create_file"] }],
      ["tool_call", expect.objectContaining({ name: "create_file", truncated: true })],
      ["tool_result", expect.objectContaining({ name: "create_file", isError: true, output: answer.content })],
    ]);
  });

  it("asks the model to continue a cut-off reply, and stops after three in a row", async () => {
    const cut = { content: [{ type: "text" as const, text: "A very long" }], stop_reason: "max_tokens" as const };
    const recovered = await loop([cut, done], { maxOutputTokens: 5 });
    expect(recovered.result).toMatchObject({ stopReason: "outcome_reported", turns: 2 });
    expect(recovered.requests[1]!.body.messages.at(-1).content[0].text).toMatch(/^Your reply was cut off at the output limit of 5 tokens\. Continue where you left off, in smaller steps\./);
    await model?.close();

    const { result, requests } = await loop([cut, cut, cut, done], { maxOutputTokens: 5 });
    expect(result).toMatchObject({ stopReason: "max_output_tokens", detail: "3 replies in a row reached the limit of 5 output tokens", turns: 3 });
    expect(requests).toHaveLength(3);
  });

  it.each([
    ["refusal", "refusal", "the model declined to continue (refusal)"],
    ["model_context_window_exceeded", "context_window_exceeded", "the conversation outgrew the model's context window"],
  ] as const)("stops on %s with its own reason, running no tool", async (stop_reason, stopReason, detail) => {
    const { result, events } = await loop([{ content: [tool("view", { path: "index.js" })], stop_reason }]);
    expect(result).toMatchObject({ stopReason, detail, turns: 1 });
    expect(events.map(([kind]) => kind)).toEqual(["model_response"]);
  });

  it("retries overload, rate limits and server errors, waiting as long as the API asks, and records each retry", async () => {
    const { result, events, requests } = await loop([
      { error: { status: 529, type: "overloaded_error", message: "Overloaded" } },
      { error: { status: 429, type: "rate_limit_error", message: "slow down" }, retryAfter: "0.05" },
      { error: { status: 500, type: "api_error", message: "Internal error" }, retryAfter: "30" },
      done,
    ]);
    expect(result.stopReason).toBe("outcome_reported");
    expect(requests).toHaveLength(4);
    const retries = events.filter(([kind]) => kind === "model_retry").map(([, data]) => data as { waitMs: number });
    expect(retries).toEqual([
      { turn: 1, attempt: 1, status: 529, requestId: "req_fake_1", error: "529 overloaded_error: Overloaded", waitMs: 10 },
      { turn: 1, attempt: 2, status: 429, requestId: "req_fake_2", error: "429 rate_limit_error: slow down", waitMs: 50 },
      { turn: 1, attempt: 3, status: 500, requestId: "req_fake_3", error: "500 api_error: Internal error", waitMs: expect.any(Number) },
    ]);
    // Thirty seconds asked, capped at what is left of the 300 ms budget.
    expect(retries[2]!.waitMs).toBeGreaterThan(100);
    expect(retries[2]!.waitMs).toBeLessThanOrEqual(300);
  });

  it("retries connections that fail or break mid-reply, and error events inside the stream", async () => {
    const faults = ["refused", "broken", "overloaded"];
    const flaky: typeof fetch = async (url, init) => {
      const fault = faults.shift();
      if (fault === "refused") throw new TypeError("fetch failed");
      if (fault === undefined) return fetch(url, init);
      const events =
        fault === "broken"
          ? 'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
          : 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(events));
          // What fetch raises when the socket closes before the reply ends.
          if (fault === "broken") controller.error(new TypeError("terminated"));
          else controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    };
    const { result, events } = await loop([done], { fetch: flaky });
    expect(result.stopReason).toBe("outcome_reported");
    expect(events.filter(([kind]) => kind === "model_retry").map(([, data]) => (data as { error: string }).error)).toEqual(["Connection error.", "terminated", "overloaded_error: Overloaded"]);
  });

  it("ends with the status and message when retrying for the whole budget does not help", async () => {
    const started = Date.now();
    const { result, requests } = await loop(() => ({ error: { status: 529, type: "overloaded_error", message: "Overloaded" } }), { retry: { budgetMs: 100, baseDelayMs: 5 } });
    expect(result).toMatchObject({ stopReason: "model_error", detail: "the model API was still failing after 100ms of retries: 529 overloaded_error: Overloaded" });
    expect(requests.length).toBeGreaterThan(2);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.each([
    ["a bad key", { key: "wrong-key" }, [] as ScriptedTurn[], "the model API refused the key (401 authentication_error: invalid x-api-key): check ANTHROPIC_API_KEY"],
    ["a bad request", {}, [{ error: { status: 400, type: "invalid_request_error", message: "prompt is too long" } }], "the model API rejected the request (400 invalid_request_error: prompt is too long)"],
  ])("does not retry %s, says what to check, and records the status and the request's id", async (_, options, script, detail) => {
    const { result, requests, events } = await loop(script, options);
    expect(result).toMatchObject({ stopReason: "model_error", detail });
    expect(requests).toHaveLength(1);
    expect(events).toEqual([["model_error", { turn: 1, latencyMs: expect.any(Number), status: detail.includes("401") ? 401 : 400, requestId: "req_fake_1", error: detail }]]);
  });

  it("records each turn's latency and tokens", async () => {
    // A delay well above what a loaded machine adds to the undelayed turn.
    const { events } = await loop([{ content: [tool("view", { path: "index.js" })], delayMs: 500 }, done]);
    const responses = events.filter(([kind]) => kind === "model_response").map(([, data]) => data as { latencyMs: number; usage: Record<string, number> });
    expect(responses[0]!.latencyMs).toBeGreaterThanOrEqual(490);
    expect(responses[1]!.latencyMs).toBeLessThan(responses[0]!.latencyMs);
    for (const response of responses) expect(response.usage).toEqual({ input: 0, cacheRead: expect.any(Number), cacheWrite: expect.any(Number), output: expect.any(Number) });
  });

  it("clears old tool results once the prompt passes the threshold, records it, and keeps the task and the latest results", async () => {
    const root = await workTree();
    await writeFile(join(root, "big.txt"), `${"a line of a large file\n".repeat(150)}`);
    const script = (index: number): ScriptedTurn => (index < 20 ? { content: [tool("view", { path: "big.txt" })] } : done);
    const { result, events, requests } = await loop(script, { maxTurns: 30, context: { mode: "harness", clearAtTokens: 8_000 }, toolContext: { root, env: {} } });
    expect(result.stopReason).toBe("outcome_reported");
    const clearings = events.filter(([kind]) => kind === "context_cleared").map(([, data]) => data as { turn: number; results: number; characters: number; tokens: number; promptTokens: number; threshold: number });
    expect(clearings.length).toBeGreaterThan(0);
    // In chunks: several results at once, brought down to about half the threshold (or as far as the latest three results allow).
    for (const clearing of clearings) {
      expect(clearing.results).toBeGreaterThan(1);
      expect(clearing.promptTokens).toBeGreaterThan(8_000);
      expect(clearing.promptTokens - clearing.tokens).toBeLessThanOrEqual(5_000);
      expect(clearing.threshold).toBe(8_000);
    }
    const after = requests[clearings[0]!.turn - 1]!.body;
    expect(after.messages[0].content[0].text).toBe(requests[0]!.body.messages[0].content[0].text);
    const shown = after.messages.flatMap((message: { content: Array<{ type: string; content?: string }> }) => message.content.filter((block) => block.type === "tool_result").map((block) => block.content));
    expect(shown[0]).toMatch(/^\[cleared to save context: \d+ characters of view output; run it again if needed\]$/);
    expect(shown.slice(-3).every((text: string) => text.includes("a line of a large file"))).toBe(true);
    // Every request stays under the threshold plus one turn's growth.
    const sizes = requests.map((request) => (request.usage?.cacheRead ?? 0) + (request.usage?.cacheWrite ?? 0));
    expect(Math.max(...sizes)).toBeLessThan(8_000 + 1_500);
  });

  it("leaves clearing to the API when asked, sending its beta and edit", async () => {
    const { requests } = await loop([done], { context: { mode: "api", clearAtTokens: 80_000 } });
    expect(requests[0]!.headers["anthropic-beta"]).toBe("context-management-2025-06-27");
    expect(requests[0]!.body.context_management).toMatchObject({ edits: [{ type: "clear_tool_uses_20250919", trigger: { type: "input_tokens", value: 80_000 } }] });
  });

  it("sends no context management when it is off or the harness's own", async () => {
    for (const mode of ["off", "harness"] as const) {
      const { requests } = await loop([done], { context: { mode, clearAtTokens: 80_000 } });
      expect(requests[0]!.headers["anthropic-beta"]).toBeUndefined();
      expect(requests[0]!.body.context_management).toBeUndefined();
      await model?.close();
      model = undefined;
    }
  });

  it("stops waiting to retry as soon as the run is cancelled", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const { result } = await loop(() => ({ error: { status: 529, type: "overloaded_error", message: "Overloaded" }, retryAfter: "30" }), {
      signal: controller.signal,
      retry: { budgetMs: 60_000, baseDelayMs: 1_000 },
    });
    expect(result.stopReason).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(2_000);
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
