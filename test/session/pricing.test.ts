import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { costOf, costWords, formatUsd, priceOf, readPriceFile, SHIPPED_PRICES } from "../../src/session/pricing.js";

const usage = (input: number, cacheWrite: number, cacheRead: number, output: number) => ({ inputTokens: input, cacheWriteTokens: cacheWrite, cacheReadTokens: cacheRead, outputTokens: output });

describe("priceOf", () => {
  it("finds current Claude models, dated ids and cloud ids by the longest id that starts them", () => {
    expect(priceOf("claude-sonnet-4-5-20250929")).toBe(SHIPPED_PRICES["claude-sonnet-4-5"]);
    expect(priceOf("claude-opus-4-5")).toMatchObject({ input: 5, cacheWrite: 6.25, cacheRead: 0.5, output: 25 });
    expect(priceOf("claude-opus-4-20250514")).toMatchObject({ input: 15, output: 75 });
    expect(priceOf("claude-opus-4-1-20250805")).toMatchObject({ input: 15, output: 75 });
    expect(priceOf("claude-haiku-4-5-20251001")).toMatchObject({ input: 1, cacheWrite: 1.25, cacheRead: 0.1, output: 5 });
    expect(priceOf("claude-sonnet-4-6")).toMatchObject({ input: 3, output: 15 });
    expect(priceOf("claude-sonnet-5-5")).toMatchObject({ input: 2, cacheRead: 0.1, output: 10 });
    expect(priceOf("anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe(SHIPPED_PRICES["claude-sonnet-4-5"]);
    expect(priceOf("us.anthropic.claude-haiku-4-5-20251001-v1:0")).toBe(SHIPPED_PRICES["claude-haiku-4-5"]);
    expect(priceOf("global.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe(SHIPPED_PRICES["claude-sonnet-4-5"]);
    expect(priceOf("claude-sonnet-4-5@20250929")).toBe(SHIPPED_PRICES["claude-sonnet-4-5"]);
  });

  it("knows no price for other models, nor for a name that only shares a prefix", () => {
    expect(priceOf("gpt-5")).toBeUndefined();
    expect(priceOf("claude-test")).toBeUndefined();
    expect(priceOf("claude-opus-45")).toBeUndefined();
  });

  it("looks at the operator's table first", () => {
    const operator = { "claude-sonnet-4": { input: 1, cacheWrite: 1, cacheRead: 1, output: 1 }, "my-model": { input: 2, cacheWrite: 2, cacheRead: 2, output: 2 } };
    expect(priceOf("claude-sonnet-4-5-20250929", operator)).toBe(operator["claude-sonnet-4"]);
    expect(priceOf("my-model-v2", operator)).toBe(operator["my-model"]);
    expect(priceOf("claude-haiku-4-5", operator)).toBe(SHIPPED_PRICES["claude-haiku-4-5"]);
  });
});

describe("costOf", () => {
  it("prices each kind of token at its rate per million", () => {
    // Opus 4.5: 1M input $5, 1M cache write $6.25, 10M cache reads $5, 1M output $25.
    expect(costOf(usage(1_000_000, 1_000_000, 10_000_000, 1_000_000), priceOf("claude-opus-4-5")!)).toBeCloseTo(41.25, 10);
    expect(costOf(usage(0, 2_000, 50_000, 800), priceOf("claude-sonnet-4-6")!)).toBeCloseTo((2_000 * 3.75 + 50_000 * 0.3 + 800 * 15) / 1e6, 12);
  });

  it("prices a long prompt at the long-prompt rates, output included", () => {
    const haiku = priceOf("claude-haiku-5-5")!;
    expect(costOf(usage(100_000, 0, 0, 1_000), haiku)).toBeCloseTo((100_000 * 0.1 + 1_000 * 0.5) / 1e6, 12);
    expect(costOf(usage(100_001, 0, 0, 1_000), haiku)).toBeCloseTo((100_001 * 0.5 + 1_000 * 2.5) / 1e6, 12);
  });
});

describe("formatUsd", () => {
  it("shows cents from a dollar up and more places below", () => {
    expect(formatUsd(5)).toBe("$5.00");
    expect(formatUsd(12.345)).toBe("$12.35");
    expect(formatUsd(0.1234)).toBe("$0.123");
    expect(formatUsd(0.00042)).toBe("$0.0004");
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.5)).toBe("$0.50");
    expect(formatUsd(0.14)).toBe("$0.14");
  });
});

describe("costWords", () => {
  const none = { inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 };
  it("says the dollars, nothing spent when the model answered nothing, and unknown only when tokens went to a model without a price", () => {
    expect(costWords({ costUsd: 0.5, usage: { ...none, inputTokens: 10 } })).toBe(formatUsd(0.5));
    expect(costWords({ usage: none })).toBe(formatUsd(0));
    expect(costWords({})).toBe(formatUsd(0));
    expect(costWords({ usage: { ...none, outputTokens: 3 } })).toBe("unknown (the model has no known price)");
    expect(costWords({ usage: { ...none, outputTokens: 3 } }, { short: true })).toBe("unknown");
  });
});

describe("readPriceFile", () => {
  const file = async (content: string) => {
    const path = join(await mkdtemp(join(tmpdir(), "routines-prices-")), "prices.json");
    await writeFile(path, content);
    return path;
  };

  it("reads rates in dollars per million tokens, with an optional long-prompt tier", async () => {
    const path = await file(JSON.stringify({ "my-model": { input: 1, cache_write: 1.25, cache_read: 0.1, output: 5, long_prompt: { input: 2, cache_write: 2.5, cache_read: 0.2, output: 10, above_tokens: 1000 } } }));
    expect(readPriceFile(path)).toEqual({ "my-model": { input: 1, cacheWrite: 1.25, cacheRead: 0.1, output: 5, longPrompt: { input: 2, cacheWrite: 2.5, cacheRead: 0.2, output: 10, aboveTokens: 1000 } } });
  });

  it("names what is wrong", async () => {
    expect(() => readPriceFile(join(tmpdir(), "no-such-prices.json"))).toThrow(/cannot read .*no-such-prices.json as JSON/);
    expect(() => readPriceFile("")).toThrow(/cannot read/);
    const broken = await file("{ nope");
    const partial = await file(JSON.stringify({ "my-model": { input: 1, output: 5 } }));
    const negative = await file(JSON.stringify({ "my-model": { input: -1, cache_write: 1, cache_read: 1, output: 1 } }));
    expect(() => readPriceFile(broken)).toThrow(/as JSON/);
    expect(() => readPriceFile(partial)).toThrow(/my-model\.cache_write: .*input, cache_write, cache_read and output/);
    expect(() => readPriceFile(negative)).toThrow(/my-model\.input/);
  });
});
