import { mkdtemp, realpath } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { runAgentLoop } from "../../src/session/agent-loop.js";
import { BudgetPriceError, RunBudget } from "../../src/session/budget.js";
import type { ModelPrice } from "../../src/session/pricing.js";
import { reportOutcome } from "../../src/session/tools/report-outcome.js";
import { view } from "../../src/session/tools/view.js";
import { MODEL_KEY, startFakeModel, type FakeModel } from "../support/fake-model.js";

/** $1 per million of everything, so that dollars are tokens / 1e6. */
const FLAT: ModelPrice = { input: 1, cacheWrite: 1, cacheRead: 1, output: 1 };
const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0) =>
  ({ input_tokens: input, output_tokens: output, cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheWrite }) as Anthropic.Usage;
const request = (messages: unknown[], max_tokens = 1000) => ({ system: "", tools: [], messages, max_tokens });

describe("RunBudget", () => {
  it("adds up each response's cost and tokens", async () => {
    const told: number[] = [];
    const budget = new RunBudget({}, "m", { input: 3, cacheWrite: 3.75, cacheRead: 0.3, output: 15 }, async (cost) => void told.push(cost));
    budget.beforeCall(request(["hi"]));
    expect(await budget.afterCall(usage(0, 1_000, 10_000, 2_000))).toEqual({ costUsd: expect.closeTo(0.003 + 0.0075 + 0.015, 10), totalCostUsd: expect.closeTo(0.0255, 10) });
    await budget.afterCall(usage(1_000, 0));
    expect(budget.costUsd).toBeCloseTo(0.0285, 10);
    expect(budget.tokens).toBe(14_000);
    expect(told).toHaveLength(2);
  });

  it("knows no cost without a price, and refuses a dollar limit it cannot keep", async () => {
    const budget = new RunBudget({ runTokens: 10_000 }, "mystery-model", undefined);
    budget.beforeCall(request(["hi"]));
    expect(await budget.afterCall(usage(100, 10))).toEqual({});
    expect(budget.costUsd).toBeUndefined();
    expect(() => new RunBudget({ runUsd: 5 }, "mystery-model", undefined)).toThrow(BudgetPriceError);
    expect(() => new RunBudget({ runUsd: 5 }, "mystery-model", undefined)).toThrow("the model mystery-model has no known price, so the run's budget of $5.00 cannot be kept; the operator can add its price with ROUTINES_PRICES_FILE");
  });

  it("estimates the next prompt from the last one's size plus what came after it", async () => {
    const budget = new RunBudget({}, "m", FLAT);
    const first = ["x".repeat(300)];
    expect(budget.estimatePrompt(request(first))).toBeGreaterThanOrEqual(100);
    budget.beforeCall(request(first));
    await budget.afterCall(usage(5_000, 10));
    const added = [...first, { role: "assistant", content: "ok" }, { role: "user", content: "y".repeat(3_000) }];
    const estimate = budget.estimatePrompt(request(added));
    expect(estimate).toBeGreaterThan(5_000 + 1_000);
    expect(estimate).toBeLessThan(5_000 + 1_100);
  });

  it("stops before a call whose worst case would go over, and tells the agent to wrap up first", async () => {
    // $0.01 at $1 per million: 10 000 tokens. Each call's worst case is its prompt (at least the last one) plus 1 000 output tokens.
    const budget = new RunBudget({ runUsd: 0.01 }, "m", FLAT);
    const messages: unknown[] = ["go"];
    expect(budget.beforeCall(request(messages))).toEqual({ go: true });
    await budget.afterCall(usage(2_000, 500));
    messages.push("a", "b");
    // 2 500 spent, next worst ≈ 3 000: the call after it could still fit.
    expect(budget.beforeCall(request(messages))).toEqual({ go: true });
    await budget.afterCall(usage(2_500, 500));
    messages.push("c", "d");
    // 5 500 spent, next worst ≈ 3 500: this call fits, the one after may not.
    const wrap = budget.beforeCall(request(messages));
    expect(wrap).toMatchObject({ go: true, note: expect.stringContaining("This run has used $0.0055 of its budget of $0.01. Wrap up now") });
    expect(wrap.go && wrap.note).toContain("report_outcome");
    await budget.afterCall(usage(3_000, 500));
    messages.push("e", "f");
    // 9 000 spent, next worst ≈ 4 000: stop. The note was given once.
    expect(budget.beforeCall(request(messages))).toEqual({ go: false, detail: expect.stringMatching(/^stopped at the budget of \$0\.01: \$0\.0090 spent, and the next model call could cost up to \$0\.0040$/) });
  });

  it("wraps up at 80 % spent", async () => {
    const budget = new RunBudget({ runUsd: 1 }, "m", FLAT);
    budget.beforeCall(request(["go"], 10));
    await budget.afterCall(usage(1_000, 789_000));
    expect(budget.beforeCall(request(["go", "a", "b"], 10))).toEqual({ go: true });
    await budget.afterCall(usage(1_100, 9_000));
    expect(budget.beforeCall(request(["go", "a", "b", "c", "d"], 10))).toMatchObject({ go: true, note: expect.stringContaining("$0.800 of its budget of $1.00") });
  });

  it("keeps a token budget the same way", async () => {
    const budget = new RunBudget({ runTokens: 20_000 }, "m", undefined);
    budget.beforeCall(request(["go"], 2_000));
    await budget.afterCall(usage(5_000, 1_000, 0, 0));
    const verdict = budget.beforeCall(request(["go", "a", "b"], 2_000));
    expect(verdict).toMatchObject({ go: true, note: expect.stringContaining("6000 of its budget of 20000 tokens") });
    await budget.afterCall(usage(6_000, 100));
    expect(budget.beforeCall(request(["go", "a", "b", "c", "d"], 2_000))).toEqual({ go: false, detail: expect.stringMatching(/^stopped at the budget of 20000 tokens: 12100 used/) });
  });
});

describe("runAgentLoop with a budget", () => {
  let model: FakeModel | undefined;
  afterEach(async () => {
    await model?.close();
    model = undefined;
  });

  it("records each turn's cost, sends the wrap-up note once, and stops with no call past the budget", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-budget-")));
    // Every turn asks for a file that does not exist: the conversation grows a little each time.
    model = await startFakeModel(() => ({ content: [{ type: "tool_use", name: "view", input: { path: "missing.txt" } }] }));
    const events: Array<[string, any]> = [];
    const budget = new RunBudget({ runUsd: 0.05 }, "claude-test", FLAT);
    const result = await runAgentLoop({
      client: new Anthropic({ apiKey: MODEL_KEY, baseURL: model.url, maxRetries: 0 }),
      model: "claude-test",
      system: "You are a careful engineer.",
      prompt: "Look around.",
      tools: [view, reportOutcome],
      maxTurns: 500,
      timeoutMs: 60_000,
      maxOutputTokens: 4_000,
      toolContext: { root, env: {} },
      budget,
      record: async (kind, data) => void events.push([kind, data]),
    });
    expect(result.stopReason).toBe("budget");
    expect(result.detail).toMatch(/^stopped at the budget of \$0\.05: \$0\.0\d+ spent, and the next model call could cost up to \$0\.00\d+$/);
    // Never over, and no call was made after the stop.
    expect(budget.costUsd!).toBeLessThanOrEqual(0.05);
    expect(model.requests).toHaveLength(result.turns);
    const responses = events.filter(([kind]) => kind === "model_response").map(([, data]) => data);
    expect(responses).toHaveLength(result.turns);
    expect(responses.at(-1).totalCostUsd).toBeCloseTo(budget.costUsd!, 12);
    expect(responses.reduce((sum, turn) => sum + turn.costUsd, 0)).toBeCloseTo(budget.costUsd!, 12);

    const notes = events.filter(([kind]) => kind === "system_note");
    expect(notes).toHaveLength(1);
    const noted = model.requests.findIndex((r) => JSON.stringify(r.body.messages.at(-1)).includes("Wrap up now"));
    expect(noted).toBeGreaterThan(0);
    // Kept in the conversation afterwards, at the end of the turn it came with.
    const lastBody = model.requests.at(-1)!.body;
    expect(JSON.stringify(lastBody.messages)).toContain("Wrap up now");
    expect(model.requests[noted]!.body.messages.at(-1).content.at(-1)).toMatchObject({ type: "text", text: expect.stringContaining("[System note]") });
  });
});
