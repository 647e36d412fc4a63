// One filter pattern, read once: `!` negates, `/…/flags` is a regular expression (matched in
// linear time), anything else a glob. The config check and the trigger matcher read patterns
// through here, so a pattern that passes the check is one the matcher can run within its budget.
import { expandBraces } from "./globs.js";
import { LIMITS } from "./limits.js";
import { compileLinearRegex, type LinearRegex } from "./linear-regex.js";
import { oneLine } from "./problem.js";

export type FilterPattern = { negated: boolean; source: string } & ({ kind: "regex"; regex: LinearRegex } | { kind: "glob"; glob: string });

const REGEX = /^\/(.*)\/([a-z]*)$/s;
const compiled = new Map<string, FilterPattern>();

/** The pattern, compiled; throws an Error saying why it cannot be used. */
export function filterPattern(pattern: string): FilterPattern {
  const known = compiled.get(pattern);
  if (known) return known;
  const negated = pattern.startsWith("!");
  const body = negated ? pattern.slice(1) : pattern;
  if (body === "") throw new Error("empty pattern");
  if (pattern.length > LIMITS.patternLength) throw new Error(`pattern of ${pattern.length} characters; the limit is ${LIMITS.patternLength}`);
  const regex = REGEX.exec(body);
  let result: FilterPattern;
  if (regex) {
    try {
      result = { negated, source: body, kind: "regex", regex: compileLinearRegex(regex[1]!, regex[2]!) };
    } catch (cause) {
      const reason = (cause as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
      throw new Error(`invalid regular expression ${oneLine(body)}: ${oneLine(reason)}`);
    }
  } else {
    try {
      expandBraces(body);
    } catch (cause) {
      throw new Error(`glob ${oneLine(body)} ${(cause as Error).message}`);
    }
    result = { negated, source: body, kind: "glob", glob: body };
  }
  // Patterns come from a bounded number of files; the cache is cleared rather than grown forever.
  if (compiled.size >= 10_000) compiled.clear();
  compiled.set(pattern, result);
  return result;
}

/** Why a filter pattern cannot be used, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  try {
    filterPattern(pattern);
    return undefined;
  } catch (cause) {
    return (cause as Error).message;
  }
}
