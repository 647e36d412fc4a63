// What model calls cost: a price table per model (dollars per million tokens of each kind) and
// the arithmetic from a response's usage to dollars. Shipped for Anthropic's Claude models as
// published on Anthropic's pricing page; the operator's own table (ROUTINES_PRICES_FILE) is looked
// at first. A model found in neither has no known price: its cost is unknown, never zero.
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { TokenUsage } from "../run-request.js";

/** Dollars per million tokens. Cache writes are the 5-minute ones, which is what runs write. */
export interface Rates {
  input: number;
  cacheWrite: number;
  cacheRead: number;
  output: number;
}

export interface ModelPrice extends Rates {
  /** Higher rates for every token of a call whose prompt (input, cache reads and writes) is longer than `aboveTokens`. */
  longPrompt?: Rates & { aboveTokens: number };
}

/** Model ids (or their starts: dated ids such as claude-sonnet-4-5-20250929 match claude-sonnet-4-5) and their prices. */
export type PriceTable = Record<string, ModelPrice>;

const rates = (input: number, cacheWrite: number, cacheRead: number, output: number): Rates => ({ input, cacheWrite, cacheRead, output });
const OPUS_4_5 = rates(5, 6.25, 0.5, 25);
const OPUS_4 = rates(15, 18.75, 1.5, 75);
const SONNET_4 = rates(3, 3.75, 0.3, 15);
/** Sonnet 4 and 4.5 with the 1M context window: prompts over 200K tokens cost more. */
const SONNET_4_LONG = { ...SONNET_4, longPrompt: { ...rates(6, 7.5, 0.6, 22.5), aboveTokens: 200_000 } };

export const SHIPPED_PRICES: PriceTable = {
  "claude-fable-5-1": rates(10, 12.5, 0.25, 50),
  "claude-mythos-5-1": rates(10, 12.5, 0.25, 50),
  "claude-fable-5": rates(10, 12.5, 1, 50),
  "claude-mythos-5": rates(10, 12.5, 1, 50),
  "claude-opus-5-5": rates(4, 5, 0.2, 20),
  "claude-opus-5": OPUS_4_5,
  "claude-opus-4-8": OPUS_4_5,
  "claude-opus-4-7": OPUS_4_5,
  "claude-opus-4-6": OPUS_4_5,
  "claude-opus-4-5": OPUS_4_5,
  "claude-opus-4-1": OPUS_4,
  "claude-opus-4": OPUS_4,
  "claude-sonnet-5-5": rates(2, 2.5, 0.1, 10),
  "claude-sonnet-5": rates(2, 2.5, 0.2, 10),
  "claude-sonnet-4-6": SONNET_4,
  "claude-sonnet-4-5": SONNET_4_LONG,
  "claude-sonnet-4": SONNET_4_LONG,
  "claude-3-7-sonnet": SONNET_4,
  "claude-haiku-5-5": { ...rates(0.1, 0.125, 0.01, 0.5), longPrompt: { ...rates(0.5, 0.625, 0.05, 2.5), aboveTokens: 100_000 } },
  "claude-haiku-4-5": rates(1, 1.25, 0.1, 5),
  "claude-3-5-haiku": rates(0.8, 1, 0.08, 4),
  "claude-3-haiku": rates(0.25, 0.3, 0.03, 1.25),
};

/**
 * The price of a model: the operator's entry first, then the shipped one, each by the longest id
 * that starts the model's name (a version suffix after "-" or "@" or "-v" still matches). Cloud
 * ids such as "anthropic.claude-…" or "us.anthropic.claude-…" are matched without their prefix.
 */
export function priceOf(model: string, operator: PriceTable = {}): ModelPrice | undefined {
  const name = model.trim().toLowerCase().replace(/^(?:[a-z]+\.)?anthropic\./, "");
  return longestMatch(name, operator) ?? longestMatch(name, SHIPPED_PRICES);
}

function longestMatch(name: string, table: PriceTable): ModelPrice | undefined {
  let best: { id: string; price: ModelPrice } | undefined;
  for (const [id, price] of Object.entries(table)) {
    const key = id.toLowerCase();
    // claude-opus-4 must not take claude-opus-45: the id ends at a separator.
    const matches = name === key || (name.startsWith(key) && /^[-@:]/.test(name.slice(key.length)));
    if (matches && (!best || key.length > best.id.length)) best = { id: key, price };
  }
  return best?.price;
}

/** The rates one call pays, by the length of its prompt. */
export function ratesFor(price: ModelPrice, promptTokens: number): Rates {
  return price.longPrompt && promptTokens > price.longPrompt.aboveTokens ? price.longPrompt : price;
}

/** What one call's usage cost, in dollars. */
export function costOf(usage: TokenUsage, price: ModelPrice): number {
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  const r = ratesFor(price, prompt);
  return (usage.inputTokens * r.input + usage.cacheWriteTokens * r.cacheWrite + usage.cacheReadTokens * r.cacheRead + usage.outputTokens * r.output) / 1_000_000;
}

/** Dollars as people read them: in cents from a dollar up or when exact ($0.50), with more places below, so a cheap run does not read "$0.00". */
export function formatUsd(dollars: number): string {
  const cents = dollars * 100;
  if (dollars >= 1 || Math.abs(cents - Math.round(cents)) < 1e-9) return `$${dollars.toFixed(2)}`;
  return `$${dollars.toFixed(dollars >= 0.01 ? 3 : 4)}`;
}

const Rate = z.number().nonnegative();
const RatesSchema = z.strictObject({ input: Rate, cache_write: Rate, cache_read: Rate, output: Rate });
const PriceFileSchema = z.record(
  z.string().min(1),
  z.strictObject({ ...RatesSchema.shape, long_prompt: z.strictObject({ ...RatesSchema.shape, above_tokens: z.number().int().positive() }).optional() }),
);

export class PriceFileError extends Error {
  override name = "PriceFileError";
}

/**
 * The operator's price table from a JSON file:
 * `{ "model-id": { "input": 3, "cache_write": 3.75, "cache_read": 0.3, "output": 15 } }`, dollars
 * per million tokens, with an optional `long_prompt` of the same rates and `above_tokens`.
 */
export function readPriceFile(path: string): PriceTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new PriceFileError(`cannot read ${path} as JSON: ${(error as Error).message}`);
  }
  const result = PriceFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new PriceFileError(
      `${path}: ${issue.path.join(".") || "the file"}: ${issue.message}; each model needs input, cache_write, cache_read and output in dollars per million tokens`,
    );
  }
  const toRates = (r: z.infer<typeof RatesSchema>): Rates => rates(r.input, r.cache_write, r.cache_read, r.output);
  return Object.fromEntries(
    Object.entries(result.data).map(([model, entry]) => [
      model,
      { ...toRates(entry), ...(entry.long_prompt ? { longPrompt: { ...toRates(entry.long_prompt), aboveTokens: entry.long_prompt.above_tokens } } : {}) },
    ]),
  );
}

/**
 * A run's cost in words: its dollars, none for a run whose model answered nothing (failed calls are
 * not billed), or unknown when the model has no price.
 */
export function costWords(run: { costUsd?: number; usage?: TokenUsage }, { short = false } = {}): string {
  if (run.costUsd !== undefined) return formatUsd(run.costUsd);
  const usage = run.usage;
  if (!usage || usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens + usage.outputTokens === 0) return formatUsd(0);
  return short ? "unknown" : "unknown (the model has no known price)";
}
