import { describe, expect, it } from "vitest";
import { compileLinearRegex, MAX_REGEX_PROGRAM_SIZE } from "../../src/config/linear-regex.js";
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
  ["\\cA\\u00e9?x", "", ["\u0001x", "\u0001éx", "Ax"]],
  ["[^]", "", ["\n", ""]],
  ["a[]b", "", ["ab", "a]b"]],
  ["\\e\\C\\/", "", ["eC/", "\u001bC/"]],
  ["(?<n>a)k<n>", "", ["ak<n>", "a"]],
  ["\\[:alpha:]", "", ["[:alpha:]", "a"]],
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
    expect(() => compileLinearRegex("[\\1]", "")).toThrow("backreferences are not supported");
    expect(() => compileLinearRegex("a(?!b)", "")).toThrow("lookahead and lookbehind are not supported");
    expect(() => compileLinearRegex("(?<=a)b", "")).toThrow("lookahead and lookbehind are not supported");
  });

  it("refuses flags other than i, m and s, and what JavaScript itself refuses", () => {
    expect(() => compileLinearRegex("a", "v")).toThrow('flag "v" is not supported; use i, m or s');
    expect(() => compileLinearRegex("a", "gi")).toThrow('flag "g" is not supported');
    expect(() => compileLinearRegex("(a", "")).toThrow(SyntaxError);
    expect(() => compileLinearRegex("(?i)a", "")).toThrow(SyntaxError);
  });

  it("refuses what RE2 would read otherwise than JavaScript", () => {
    expect(() => compileLinearRegex("a\\z", "")).toThrow('\\z is not supported (JavaScript reads it as the letter "z")');
    expect(() => compileLinearRegex("\\Aa", "")).toThrow("\\A is not supported");
    expect(() => compileLinearRegex("\\a", "")).toThrow("\\a is not supported");
    expect(() => compileLinearRegex("\\Qa.b\\E", "")).toThrow("\\Q is not supported");
    expect(() => compileLinearRegex("\\u{1F600}", "")).toThrow("\\u{…} is not supported");
    expect(() => compileLinearRegex("[[:alpha:]]", "")).toThrow("[:alpha:] inside a class is not supported");
    expect(() => compileLinearRegex("\\p{L}", "")).toThrow("\\p{…} property escapes are not supported");
  });

  it("refuses a pattern whose program would be too large", () => {
    expect(() => compileLinearRegex("(a{1,100}){1,100}", "")).toThrow("invalid repeat count");
    expect(() => compileLinearRegex("a{1001}", "")).toThrow("a repetition count may be at most 1000");
    expect(() => compileLinearRegex("[ab]{1000}c{1000}", "")).toThrow(`more than ${MAX_REGEX_PROGRAM_SIZE.toLocaleString("en-US")}`);
    expect(() => compileLinearRegex("[ab]{900}c{900}", "")).not.toThrow();
  });

  it("takes time linear in the text where backtracking takes exponential time", () => {
    const regex = compileLinearRegex(`^${".*a".repeat(20)}.*b$`, "s");
    const started = performance.now();
    expect(regex.test("a".repeat(5_000))).toBe(false);
    expect(compileLinearRegex("^(a+)+$", "").test(`${"a".repeat(5_000)}!`)).toBe(false);
    expect(compileLinearRegex("(x+x+)+y", "").test("x".repeat(65_536))).toBe(false);
    expect(compileLinearRegex("(?:a[a-d]{200}[a-d]|b[a-d]{100}a)$", "").test(`${"abcd".repeat(2_000)}!`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("takes from the budget every character against every instruction, before matching", () => {
    const regex = compileLinearRegex(".*a.*a.*b", "");
    expect(() => regex.test("a".repeat(10_000), new StepBudget(1_000))).toThrow(StepBudgetExceeded);
    expect(regex.test("aab", new StepBudget(1_000))).toBe(true);
    const budget = new StepBudget(1_000_000);
    const literal = compileLinearRegex("skip", "");
    for (let i = 0; i < 16; i++) literal.test("x".repeat(9_999), budget);
    expect(() => literal.test("x".repeat(9_999), budget)).toThrow(StepBudgetExceeded);
  });
});
