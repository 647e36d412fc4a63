// A run's budget: what its model calls have cost and used, and whether the next call may be made.
// Before each call the worst case of that call (its prompt estimated from the last one's size plus
// what was added since, all of it written to the cache, and every output token it may produce) is
// weighed against what is left: a call that could go over the budget is never made. From about
// 80 % spent the agent is told once to wrap up.
import type Anthropic from "@anthropic-ai/sdk";
import type { TokenUsage } from "../run-request.js";
import { costOf, formatUsd, ratesFor, type ModelPrice } from "./pricing.js";
import { OUTCOME_TOOL } from "./tools/report-outcome.js";

export interface BudgetLimits {
  /** Most dollars the run's model calls may cost. */
  runUsd?: number;
  /** Most tokens the run's model calls may use: input, cache reads and writes, and output. */
  runTokens?: number;
  /** Where runUsd comes from when it is not the routine's budget (what was left of its daily budget). */
  why?: string;
}

/** The operator's dollar budgets: defaults for routines that set none, and the most a routine may set. */
export interface OperatorBudget {
  /** Per run, for routines without budget.run_usd (ROUTINES_BUDGET_RUN_USD). */
  runUsd?: number;
  /** Per routine and repository in 24 hours, for routines without budget.daily_usd (ROUTINES_BUDGET_DAILY_USD). */
  dailyUsd?: number;
  /** The most budget.run_usd may be (ROUTINES_BUDGET_MAX_RUN_USD). */
  maxRunUsd?: number;
  /** The most budget.daily_usd may be (ROUTINES_BUDGET_MAX_DAILY_USD). */
  maxDailyUsd?: number;
}

/** A routine's budget key as the schema reads it. */
export interface RoutineBudget {
  run_usd?: number | undefined;
  run_tokens?: number | undefined;
  daily_usd?: number | undefined;
}

/**
 * The limits a run keeps: the routine's own, else the operator's default, else the operator's
 * ceiling (a routine above the ceiling is a config error, so never reaches a run).
 */
export function runLimitsOf(routine: RoutineBudget | undefined, operator: OperatorBudget = {}): BudgetLimits {
  const runUsd = routine?.run_usd ?? operator.runUsd ?? operator.maxRunUsd;
  return { ...(runUsd === undefined ? {} : { runUsd }), ...(routine?.run_tokens === undefined ? {} : { runTokens: routine.run_tokens }) };
}

/** A daily budget counts the runs created in the last 24 hours: a rolling window, not calendar days. */
export const DAILY_WINDOW_MS = 24 * 3_600_000;

/** The routine's daily dollar budget in a repository, the same way. */
export const dailyLimitOf = (routine: RoutineBudget | undefined, operator: OperatorBudget = {}): number | undefined =>
  routine?.daily_usd ?? operator.dailyUsd ?? operator.maxDailyUsd;

/** Go on (with a note for the agent to wrap up), or stop, saying why. */
export type BudgetVerdict = { go: true; note?: string } | { go: false; detail: string };

/** What the agent loop asks of a budget: before each model call, and after each response. */
export interface LoopBudget {
  beforeCall(request: { system: unknown; tools: unknown; messages: readonly unknown[]; max_tokens: number }): BudgetVerdict;
  /** Counts a response's usage; returns what it cost and the run's total so far, when the price is known. */
  afterCall(usage: Anthropic.Usage): Promise<{ costUsd?: number; totalCostUsd?: number }>;
}

/** Spent share at which the agent is told to wrap up. */
export const WRAP_UP_SHARE = 0.8;
/** Characters per token when estimating what was added to the prompt: fewer than prose has, so the estimate errs high. */
const CHARS_PER_TOKEN = 3;

const estimateTokens = (value: unknown) => Math.ceil(JSON.stringify(value).length / CHARS_PER_TOKEN);

export const usageOf = (usage: Anthropic.Usage): TokenUsage => ({
  inputTokens: usage.input_tokens,
  cacheReadTokens: usage.cache_read_input_tokens ?? 0,
  cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
  outputTokens: usage.output_tokens,
});

export class BudgetPriceError extends Error {
  override name = "BudgetPriceError";
}

export class RunBudget implements LoopBudget {
  #spentUsd = 0;
  #tokens = 0;
  /** The last call's prompt, in tokens as the API counted them, and how many messages it had. */
  #last: { promptTokens: number; messages: number } | undefined;
  #sent = 0;
  #warned = false;

  /**
   * `price` undefined: the model has no known price, so costs are unknown; a dollar limit then
   * cannot be kept and is refused here rather than passed silently.
   */
  constructor(
    readonly limits: BudgetLimits,
    private readonly model: string,
    private readonly price: ModelPrice | undefined,
    /** Told of every response's cost as it comes (the run's stored cost follows it). */
    private readonly onSpent?: (costUsd: number) => Promise<void>,
  ) {
    if (limits.runUsd !== undefined && !price) {
      throw new BudgetPriceError(
        `the model ${model} has no known price, so the run's budget of ${formatUsd(limits.runUsd)} cannot be kept; the operator can add its price with ROUTINES_PRICES_FILE`,
      );
    }
  }

  /** Dollars spent so far; undefined when the model's price is unknown. */
  get costUsd(): number | undefined {
    return this.price ? this.#spentUsd : undefined;
  }

  get tokens(): number {
    return this.#tokens;
  }

  /** The prompt of the next call, in tokens: the last prompt as counted plus an estimate of what came after it. */
  estimatePrompt(request: Parameters<LoopBudget["beforeCall"]>[0]): number {
    if (!this.#last) return estimateTokens([request.system, request.tools, request.messages]);
    return this.#last.promptTokens + estimateTokens(request.messages.slice(this.#last.messages));
  }

  beforeCall(request: Parameters<LoopBudget["beforeCall"]>[0]): BudgetVerdict {
    const prompt = this.estimatePrompt(request);
    this.#sent = request.messages.length;
    const { runUsd, runTokens } = this.limits;
    const worstTokens = prompt + request.max_tokens;
    const worstUsd = this.price ? this.#worstCost(this.price, prompt, request.max_tokens) : 0;
    if (runTokens !== undefined && this.#tokens + worstTokens > runTokens) {
      return { go: false, detail: `stopped at the budget of ${runTokens} tokens: ${this.#tokens} used, and the next model call could use up to ${worstTokens} more` };
    }
    if (runUsd !== undefined && this.#spentUsd + worstUsd > runUsd) {
      const why = this.limits.why ? ` (${this.limits.why})` : "";
      return { go: false, detail: `stopped at the budget of ${formatUsd(runUsd)}${why}: ${formatUsd(this.#spentUsd)} spent, and the next model call could cost up to ${formatUsd(worstUsd)}` };
    }
    if (this.#warned) return { go: true };
    // Wrap up at 80 %, or earlier when the call after this one might not fit: the agent gets a turn to finish either way.
    const near = (spent: number, worst: number, limit: number | undefined) => limit !== undefined && (spent >= WRAP_UP_SHARE * limit || spent + 2 * worst > limit);
    const usdNear = near(this.#spentUsd, worstUsd, runUsd);
    if (!usdNear && !near(this.#tokens, worstTokens, runTokens)) return { go: true };
    this.#warned = true;
    const used = usdNear ? `${formatUsd(this.#spentUsd)} of its budget of ${formatUsd(runUsd!)}` : `${this.#tokens} of its budget of ${runTokens} tokens`;
    return {
      go: true,
      note:
        `[System note] This run has used ${used}. Wrap up now: finish or set aside the step you are on, leave nothing half-done on GitHub, ` +
        `and report the outcome with ${OUTCOME_TOOL}. The run stops before any model call that could go over its budget.`,
    };
  }

  async afterCall(response: Anthropic.Usage): Promise<{ costUsd?: number; totalCostUsd?: number }> {
    const usage = usageOf(response);
    const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
    this.#tokens += prompt + usage.outputTokens;
    this.#last = { promptTokens: prompt, messages: this.#sent };
    if (!this.price) return {};
    const cost = costOf(usage, this.price);
    this.#spentUsd += cost;
    await this.onSpent?.(cost);
    return { costUsd: cost, totalCostUsd: this.#spentUsd };
  }

  /**
   * Whether a call besides the agent's own (a finding's verification, on its own model) may be
   * made: weighed the same way, worst case against what is left. It does not wrap up the agent.
   */
  beforeSideCall(price: ModelPrice | undefined, promptTokens: number, maxOutput: number): BudgetVerdict {
    const { runUsd, runTokens } = this.limits;
    const worstTokens = promptTokens + maxOutput;
    if (runTokens !== undefined && this.#tokens + worstTokens > runTokens) return { go: false, detail: `the run's budget of ${runTokens} tokens has too little left (${this.#tokens} used)` };
    const worstUsd = price ? this.#worstCost(price, promptTokens, maxOutput) : 0;
    if (runUsd !== undefined && this.#spentUsd + worstUsd > runUsd) return { go: false, detail: `the run's budget of ${formatUsd(runUsd)} has too little left (${formatUsd(this.#spentUsd)} spent)` };
    return { go: true };
  }

  /** Counts a side call's usage at its own model's price, into the run's totals. */
  async afterSideCall(response: Anthropic.Usage, price: ModelPrice | undefined): Promise<{ costUsd?: number; totalCostUsd?: number }> {
    const usage = usageOf(response);
    this.#tokens += usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens + usage.outputTokens;
    if (!price || !this.price) return {};
    const cost = costOf(usage, price);
    this.#spentUsd += cost;
    await this.onSpent?.(cost);
    return { costUsd: cost, totalCostUsd: this.#spentUsd };
  }

  /** The most the next call can cost: its whole prompt written to the cache (or uncached, if dearer), and every output token. */
  #worstCost(price: ModelPrice, prompt: number, maxOutput: number): number {
    const r = ratesFor(price, prompt);
    return (prompt * Math.max(r.input, r.cacheWrite) + maxOutput * r.output) / 1_000_000;
  }
}
