// Filter patterns: `!` negates, `/…/flags` is a regular expression, anything else is a glob.
// Branch and tag globs: `*` stops at `/`, `**` crosses it; in text (logins, titles, bodies,
// labels) `*` matches any text, `?` one character, and `[bot]` is literal. All of them match in
// time linear in the text (config/globs.ts, config/linear-regex.ts), and every step counts
// against the event's budget.
import { filterPattern, type FilterPattern } from "../config/filter-pattern.js";
import { matchPathGlob, matchTextGlob } from "../config/globs.js";
import type { StepBudget } from "../config/step-budget.js";

export type PatternKind = "path" | "text";

/** Whether `value` matches the pattern's positive form (its `!` is handled by patternMismatch). */
function matchesBody(pattern: FilterPattern, value: string, kind: PatternKind, ignoreCase: boolean, budget?: StepBudget): boolean {
  if (pattern.kind === "regex") return pattern.regex.test(value, budget);
  const options = { ignoreCase, ...(budget ? { budget } : {}) };
  return kind === "path" ? matchPathGlob(pattern.glob, value, options) : matchTextGlob(pattern.glob, value, options);
}

/**
 * `feature/**` for `feature/*` when only the `/` in `value` kept the glob from matching: every
 * `*` that is a whole path segment becomes `**`, which crosses `/`.
 */
function acrossSlashes(pattern: FilterPattern, value: string, ignoreCase: boolean, budget?: StepBudget): string | undefined {
  if (pattern.kind === "regex" || !value.includes("/")) return undefined;
  const wider = pattern.glob.split("/").map((segment) => (segment === "*" ? "**" : segment)).join("/");
  return wider !== pattern.glob && matchPathGlob(wider, value, { ignoreCase, ...(budget ? { budget } : {}) }) ? wider : undefined;
}

export interface PatternOptions {
  kind: PatternKind;
  ignoreCase?: boolean;
  /** The event's matching budget; matching throws StepBudgetExceeded when it runs out. */
  budget?: StepBudget;
}

/**
 * Why `value` fails the patterns, or undefined when it matches: it must match one of the positive
 * patterns (if any) and none of the negated ones, so ["main", "!main-old"] and
 * ["!dependabot[bot]", "!renovate[bot]"] both read as people mean them.
 */
export function patternMismatch(value: string, patterns: string | readonly string[], options: PatternOptions): string | undefined {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  const { kind, budget } = options;
  const ignoreCase = options.ignoreCase ?? false;
  const parsed = list.map((text) => ({ text, pattern: filterPattern(text) }));
  const excluded = parsed.find(({ pattern }) => pattern.negated && matchesBody(pattern, value, kind, ignoreCase, budget));
  if (excluded !== undefined) return `is excluded by "${excluded.text}"`;
  const positive = parsed.filter(({ pattern }) => !pattern.negated);
  if (positive.length === 0 || positive.some(({ pattern }) => matchesBody(pattern, value, kind, ignoreCase, budget))) return undefined;
  const mismatch = positive.length === 1 ? `does not match "${positive[0]!.text}"` : `does not match any of ${positive.map(({ text }) => `"${text}"`).join(", ")}`;
  if (kind !== "path") return mismatch;
  const wider = positive.map(({ pattern }) => acrossSlashes(pattern, value, ignoreCase, budget)).find((glob) => glob !== undefined);
  return wider === undefined ? mismatch : `${mismatch} (* stops at "/": use "${wider}" to match across "/")`;
}
