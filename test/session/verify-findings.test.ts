import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { BudgetPriceError, RunBudget } from "../../src/session/budget.js";
import type { ModelPrice } from "../../src/session/pricing.js";
import { FindingVerifier, parseVerdict } from "../../src/session/verify-findings.js";
import { MODEL_KEY, startFakeModel, type FakeModel, type ScriptedTurn } from "../support/fake-model.js";

/** $1 per million of everything, so that dollars are tokens / 1e6. */
const FLAT: ModelPrice = { input: 1, cacheWrite: 1, cacheRead: 1, output: 1 };
const finding = { path: "src/a.ts", side: "RIGHT" as const, start: 3, end: 3, body: "`sub` swaps its operands." };
const verdictCall = (input: unknown): ScriptedTurn => ({ content: [{ type: "tool_use", name: "verdict", input }] });
const toolUse = (input: unknown, name = "verdict") => ({ content: [{ type: "tool_use" as const, id: "t", name, input }] }) as unknown as Anthropic.Message;

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

async function verifierWith(turns: ScriptedTurn[], budget = new RunBudget({}, "main", FLAT)) {
  model = await startFakeModel(turns);
  const events: Array<[string, any]> = [];
  const verifier = new FindingVerifier({ client: new Anthropic({ apiKey: MODEL_KEY, baseURL: model.url, maxRetries: 0 }), model: "small", price: FLAT, retry: { budgetMs: 0, baseDelayMs: 1 } });
  verifier.attach({ budget, record: async (kind, data) => void events.push([kind, data]) });
  return { verifier, events, budget, model };
}

describe("a finding's verification", () => {
  it("asks the small model with the verdict tool forced, and records the verdict, the reason and what it cost in the run's budget", async () => {
    const { verifier, events, budget, model } = await verifierWith([verdictCall({ verdict: "reject", reason: "Line 3 returns a - b." })]);
    const result = await verifier.check(finding, "> 3  return a - b;");
    expect(result).toEqual({ verdict: "reject", reason: "Line 3 returns a - b." });
    const [request] = model.requests;
    expect(request!.body).toMatchObject({ model: "small", tool_choice: { type: "tool", name: "verdict" }, max_tokens: 1024 });
    expect(request!.body.messages[0].content).toContain('<untrusted source="finding">\n`sub` swaps its operands.\n</untrusted>');
    expect(request!.body.messages[0].content).toContain("> 3  return a - b;");
    const [[kind, data]] = events as [[string, any]];
    expect(kind).toBe("finding_verified");
    expect(data).toMatchObject({ path: "src/a.ts", lines: [3, 3], verdict: "reject", reason: "Line 3 returns a - b.", model: "small", finding: finding.body });
    expect(data.costUsd).toBeGreaterThan(0);
    expect(budget.costUsd).toBeCloseTo(data.costUsd, 12);
    expect(budget.tokens).toBeGreaterThan(0);
    const used = verifier.usage;
    expect(used.cacheReadTokens + used.cacheWriteTokens + used.inputTokens + used.outputTokens).toBe(budget.tokens);
  });

  it("makes no call the run's budget could not pay, and posts the finding unchecked", async () => {
    const budget = new RunBudget({ runUsd: 0.0001 }, "main", FLAT);
    const { verifier, events, model } = await verifierWith([verdictCall({ verdict: "reject", reason: "no" })], budget);
    expect(await verifier.check(finding, "code")).toEqual({ verdict: "unchecked", reason: expect.stringMatching(/^not checked: the run's budget of \$0\.0001 has too little left/) });
    expect(model.requests).toHaveLength(0);
    expect(events[0]![1]).toMatchObject({ verdict: "unchecked" });
  });

  it("gives no verdict when the call fails", async () => {
    const { verifier } = await verifierWith([{ error: { status: 400, type: "invalid_request_error", message: "bad" } }]);
    expect((await verifier.check(finding, "code")).verdict).toBe("unchecked");
  });

  it("refuses a verify model without a price when the run has a dollar budget", () => {
    const verifier = new FindingVerifier({ client: new Anthropic({ apiKey: "x" }), model: "unknown-model", price: undefined });
    expect(() => verifier.attach({ budget: new RunBudget({ runUsd: 1 }, "main", FLAT), record: async () => {} })).toThrow(BudgetPriceError);
    expect(() => verifier.attach({ budget: new RunBudget({}, "main", FLAT), record: async () => {} })).not.toThrow();
  });

  it("parses the answer strictly: one verdict call, exactly its two fields", () => {
    expect(parseVerdict(toolUse({ verdict: "confirm", reason: "Yes." }))).toEqual({ verdict: "confirm", reason: "Yes." });
    expect(parseVerdict(toolUse({ verdict: "maybe", reason: "Hm." })).verdict).toBe("unchecked");
    expect(parseVerdict(toolUse({ verdict: "reject", reason: "" })).verdict).toBe("unchecked");
    expect(parseVerdict(toolUse({ verdict: "reject", reason: "No.", extra: 1 })).verdict).toBe("unchecked");
    expect(parseVerdict(toolUse({ verdict: "reject", reason: "No." }, "other")).verdict).toBe("unchecked");
    expect(parseVerdict({ content: [{ type: "text", text: "reject", citations: null }] } as Anthropic.Message).verdict).toBe("unchecked");
  });
});
