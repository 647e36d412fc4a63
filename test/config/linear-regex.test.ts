import { describe, expect, it } from "vitest";
import { compileLinearRegex, MAX_REGEX_STATES } from "../../src/config/linear-regex.js";
import { StepBudget, StepBudgetExceeded } from "../../src/config/step-budget.js";

// Patterns people write in filters, and texts around them: the answer must be JavaScript's.
const CASES: Array<[string, string, string[]]> = [
  ["^(feat|fix)(\\(.+\\))?:", "", ["feat: x", "fix(api): y", "chore: z", "feat(: x", "xfeat: y"]],
  ["\\[skip review\\]", "i", ["Docs [SKIP review] only", "skip review", "[skip  review]"]],
  ["^release-\\d+\\.\\d+$", "", ["release-1.2", "release-1.2.3", "release-x.2", "release-10.20"]],
  ["^v\\d", "", ["v1.0", "0.0.1", "V1"]],
  ["^CHANGES$", "i", ["changes", "changes!", "CHANGES"]],
  ["\\bwip\\b", "i", ["WIP: x", "wiper", "a wip b", "swip"]],
  ["^a.c$", "", ["abc", "a\nc", "ac"]],
  ["^a.c$", "s", ["a\nc"]],
  ["^x$", "m", ["a\nx\nb", "ax"]],
  ["colou?r", "", ["color", "colour", "colouur"]],
  ["^a{2,3}$", "", ["a", "aa", "aaa", "aaaa"]],
  ["^a{2}$", "", ["aa", "aaa"]],
  ["^a{2,}b", "", ["ab", "aab", "aaaab"]],
  ["[^a-z0-9]", "", ["abc", "ab-c", "A"]],
  ["[a-z]", "i", ["ABC", "123"]],
  ["^[\\w.-]+@[\\w-]+\\.\\w+$", "", ["a.b@c.de", "a b@c.de"]],
  ["\\s+$", "", ["trailing  ", "none"]],
  ["^(?:dependabot|renovate)\\[bot\\]$", "", ["dependabot[bot]", "renovate[bot]", "me[bot]"]],
  ["(?<kind>feat|fix)!?:", "", ["feat!: x", "fix: y", "docs: z"]],
  ["a*?b", "", ["aaab", "c"]],
  ["\\x41\\u0042", "", ["AB", "ab"]],
  ["^$", "", ["", "x"]],
  ["a|", "", ["", "b"]],
  ["[\\]-]", "", ["]", "-", "a"]],
];

describe("compileLinearRegex", () => {
  it.each(CASES)("answers as JavaScript does for /%s/%s", (source, flags, texts) => {
    const regex = compileLinearRegex(source, flags);
    for (const text of texts) expect(regex.test(text), JSON.stringify(text)).toBe(new RegExp(source, flags).test(text));
  });

  it("refuses what only backtracking can match, saying so", () => {
    expect(() => compileLinearRegex("(a)\\1", "")).toThrow("backreferences are not supported");
    expect(() => compileLinearRegex("(?<n>a)\\k<n>", "")).toThrow("backreferences are not supported");
    expect(() => compileLinearRegex("a(?=b)", "")).toThrow("lookahead and lookbehind are not supported");
    expect(() => compileLinearRegex("(?<!a)b", "")).toThrow("lookahead and lookbehind are not supported");
    expect(() => compileLinearRegex("a", "v")).toThrow('flags "v" are not supported');
    expect(() => compileLinearRegex("(a", "")).toThrow(SyntaxError);
  });

  it("refuses a pattern whose automaton would be too large", () => {
    expect(() => compileLinearRegex("(a{1,100}){1,100}", "")).toThrow(`more than ${MAX_REGEX_STATES} states`);
  });

  it("takes time linear in the text where backtracking takes exponential time", () => {
    const regex = compileLinearRegex(`^${".*a".repeat(20)}.*b$`, "s");
    const started = performance.now();
    expect(regex.test("a".repeat(5_000))).toBe(false);
    expect(compileLinearRegex("^(a+)+$", "").test(`${"a".repeat(5_000)}!`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("stops at the step budget", () => {
    const regex = compileLinearRegex(".*a.*a.*b", "");
    expect(() => regex.test("a".repeat(10_000), new StepBudget(1_000))).toThrow(StepBudgetExceeded);
    expect(regex.test("aab", new StepBudget(1_000))).toBe(true);
  });
});
