// Regular expressions for filters, matched in time linear in the text by RE2 (re2js), which
// never backtracks. Patterns are written in JavaScript's syntax and translated to RE2's; what
// needs backtracking (backreferences, lookaround) is refused, and so is an escape that the two
// read differently, so a pattern never quietly means something other than what its author tested.
import { RE2JS, RE2JSException } from "re2js";
import { StepBudget } from "./step-budget.js";

/** Most RE2 instructions one pattern may compile to; `a{1,100}` takes about 200. */
export const MAX_REGEX_PROGRAM_SIZE = 2_000;

const FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

export class RegexError extends Error {
  override name = "RegexError";
}

export interface LinearRegex {
  /**
   * Whether the pattern matches anywhere in `text`. It first takes from `budget` what matching
   * can cost at most: every character against every instruction of the program.
   */
  test(text: string, budget?: StepBudget): boolean;
}

/** Compiles a filter's regular expression; throws RegexError (or SyntaxError) saying why it cannot be used. */
export function compileLinearRegex(source: string, flags: string): LinearRegex {
  let re2Flags = RE2JS.DISABLE_UNICODE_GROUPS; // JavaScript without `u` reads \p{L} as the text "p{L}"
  for (const flag of flags) {
    const bit = FLAGS[flag];
    if (bit === undefined) throw new RegexError(`flag "${flag}" is not supported; use i, m or s`);
    re2Flags |= bit;
  }
  new RegExp(source, flags); // JavaScript's own syntax check first, with its own messages
  refuseWhatReadsDifferently(source);
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(RE2JS.translateRegExp(source), re2Flags);
  } catch (cause) {
    if (cause instanceof RE2JSException) throw new RegexError(explain(cause.message));
    throw cause;
  }
  const size = regex.programSize();
  if (size > MAX_REGEX_PROGRAM_SIZE) throw new RegexError(`the pattern is too large: it compiles to ${size.toLocaleString("en-US")} instructions, more than ${MAX_REGEX_PROGRAM_SIZE.toLocaleString("en-US")}; shorten it or lower its repetition counts`);
  return {
    test(text, budget = new StepBudget(Number.POSITIVE_INFINITY)) {
      budget.spend((text.length + 1) * size);
      try {
        return regex.test(text);
      } finally {
        // The compiled pattern is kept for later events, its automaton cache (up to 8 MB) is not.
        regex.re2().lazyDFA?.clearCache();
      }
    },
  };
}

/**
 * Refuses what RE2 would accept with another meaning than JavaScript's: `\k<name>` (a
 * backreference, which translation would turn into the text "k<name>"), `\a`, `\A`, `\z`, `\Q`
 * (letters in JavaScript, a bell, anchors and quoting in RE2), `\u{…}` (the text "u{…}" in
 * JavaScript without the `u` flag, a code point in RE2) and `[:alpha:]` inside a class.
 */
function refuseWhatReadsDifferently(source: string): void {
  let inClass = false;
  for (const { 0: token, index } of source.matchAll(/\\[\s\S]|\[:\^?[A-Za-z]+:\]|[\s\S]/g)) {
    const escaped = token.length === 2 && token.startsWith("\\") ? token[1]! : undefined;
    if (escaped !== undefined && (/[1-9]/.test(escaped) || (escaped === "k" && source[index + 2] === "<"))) throw new RegexError("backreferences are not supported");
    if (escaped !== undefined && /[aAzQ]/.test(escaped)) throw new RegexError(`\\${escaped} is not supported (JavaScript reads it as the letter "${escaped}"); write ${escaped} for the letter, or ^ and $ for the start and the end`);
    if (escaped === "u" && source[index + 2] === "{") throw new RegexError("\\u{…} is not supported (JavaScript without the u flag reads it as \"u{…}\"); write the character itself or \\uXXXX");
    if (token.startsWith("[:") && inClass) throw new RegexError(`${token} inside a class is not supported (JavaScript reads it as the characters "${token}"); list the characters instead, such as [a-zA-Z]`);
    if (token === "[" && !inClass) inClass = true;
    else if (token === "]" && inClass) inClass = false;
  }
}

/** RE2's complaint, in the words of someone writing JavaScript. */
function explain(message: string): string {
  const reason = message.replace(/^error parsing regexp: /, "");
  if (/^invalid escape sequence: `\\[1-9]/.test(reason)) return "backreferences are not supported";
  if (/^invalid or unsupported Perl syntax: `\(\?[=!]/.test(reason) || /^invalid named capture: `\(\?<[=!]/.test(reason)) return "lookahead and lookbehind are not supported";
  if (/^invalid escape sequence: `\\[pP]/.test(reason)) return "\\p{…} property escapes are not supported";
  if (/^invalid repeat count/.test(reason)) return `${reason}: a repetition count may be at most 1000, nested counts multiplied together too`;
  if (reason === "expression too large") return "the pattern is too large; shorten it or lower its repetition counts";
  return reason;
}
