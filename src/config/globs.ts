// Globs for filters, matched without backtracking. Text globs (logins, titles, bodies, labels):
// `*` is any text, `?` one character, everything else literal. Path globs (branches, tags): `*`
// and `?` stay within one `/`-separated segment, `**` as a whole segment is any number of
// segments, `[…]` is a character class, `{a,b}` alternatives and `\` escapes the next character.
// Both are matched with the greedy two-pointer method: a `*` that failed is never retried from
// more than one place, so the work is at most the pattern's length times the text's.
import type { StepBudget } from "./step-budget.js";

/** Most alternatives `{…}` may expand a path glob to. */
const MAX_BRACE_EXPANSIONS = 64;

/**
 * Whether `units` matches `tokens`, where a token is a star (any run of units, also none) or
 * matches exactly one unit. On a mismatch the most recent star takes one more unit; earlier stars
 * are never revisited, which is enough because a star can absorb whatever a later retry would.
 */
function twoPointer<T, U>(tokens: readonly T[], units: readonly U[] | string, isStar: (token: T) => boolean, matchesOne: (token: T, unit: U) => boolean, budget?: StepBudget): boolean {
  let t = 0;
  let u = 0;
  let star = -1;
  let resume = 0;
  while (u < units.length) {
    budget?.spend(1);
    const token = tokens[t];
    if (token !== undefined && isStar(token)) {
      star = t++;
      resume = u;
    } else if (token !== undefined && matchesOne(token, units[u] as U)) {
      t++;
      u++;
    } else if (star >= 0) {
      t = star + 1;
      u = ++resume;
    } else {
      return false;
    }
  }
  while (t < tokens.length && isStar(tokens[t]!)) t++;
  return t === tokens.length;
}

/** A text glob: `*` any text (newlines too), `?` one character. */
export function matchTextGlob(glob: string, text: string, { ignoreCase = false, budget }: { ignoreCase?: boolean; budget?: StepBudget } = {}): boolean {
  const pattern = ignoreCase ? glob.toLowerCase() : glob;
  const value = ignoreCase ? text.toLowerCase() : text;
  return twoPointer([...pattern], value, (token) => token === "*", (token, char) => token === "?" || token === char, budget);
}

type SegmentToken = { kind: "star" } | { kind: "one"; test: (char: string) => boolean };

/** `[…]` from just after its `[`; undefined when it is not closed (then `[` is literal). */
function parseClass(glob: string, from: number, ignoreCase: boolean): { test: (char: string) => boolean; end: number } | undefined {
  let at = from;
  const negated = glob[at] === "!" || glob[at] === "^";
  if (negated) at++;
  const ranges: Array<[string, string]> = [];
  let first = true;
  while (at < glob.length && (glob[at] !== "]" || first)) {
    first = false;
    let low = glob[at++]!;
    if (low === "\\" && at < glob.length) low = glob[at++]!;
    let high = low;
    if (glob[at] === "-" && at + 1 < glob.length && glob[at + 1] !== "]") {
      high = glob[at + 1] === "\\" && at + 2 < glob.length ? glob[at + 2]! : glob[at + 1]!;
      at += glob[at + 1] === "\\" ? 3 : 2;
    }
    ranges.push([low, high]);
  }
  if (glob[at] !== "]") return undefined;
  const inside = (char: string) => ranges.some(([low, high]) => char >= low && char <= high);
  const test = (char: string) => {
    const found = inside(char) || (ignoreCase && (inside(char.toLowerCase()) || inside(char.toUpperCase())));
    return negated ? !found : found;
  };
  return { test, end: at + 1 };
}

function segmentTokens(segment: string, ignoreCase: boolean): SegmentToken[] {
  const tokens: SegmentToken[] = [];
  const same = (wanted: string) => (char: string) => char === wanted || (ignoreCase && char.toLowerCase() === wanted.toLowerCase());
  for (let at = 0; at < segment.length; ) {
    const char = segment[at]!;
    if (char === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
      at++;
    } else if (char === "?") {
      tokens.push({ kind: "one", test: () => true });
      at++;
    } else if (char === "[") {
      const parsed = parseClass(segment, at + 1, ignoreCase);
      tokens.push({ kind: "one", test: parsed ? parsed.test : same("[") });
      at = parsed ? parsed.end : at + 1;
    } else if (char === "\\" && at + 1 < segment.length) {
      tokens.push({ kind: "one", test: same(segment[at + 1]!) });
      at += 2;
    } else {
      tokens.push({ kind: "one", test: same(char) });
      at++;
    }
  }
  return tokens;
}

/** `a{b,c}d` → [abd, acd], innermost braces first; a brace without a comma stays literal. */
export function expandBraces(glob: string): string[] {
  const results: string[] = [];
  const pending = [glob];
  while (pending.length > 0) {
    const text = pending.pop()!;
    const match = /\{([^{}]*,[^{}]*)\}/.exec(text);
    if (!match) {
      results.push(text);
    } else {
      for (const option of match[1]!.split(",").reverse()) pending.push(text.slice(0, match.index) + option + text.slice(match.index + match[0].length));
    }
    if (results.length + pending.length > MAX_BRACE_EXPANSIONS) throw new RangeError(`expands to more than ${MAX_BRACE_EXPANSIONS} alternatives`);
  }
  return results;
}

type PathToken = { kind: "globstar" } | { kind: "segment"; tokens: SegmentToken[] };

function matchOnePathGlob(glob: string, value: string, ignoreCase: boolean, budget?: StepBudget): boolean {
  const tokens: PathToken[] = glob.split("/").map((segment) => (segment === "**" ? { kind: "globstar" } : { kind: "segment", tokens: segmentTokens(segment, ignoreCase) }));
  // As in minimatch, a trailing `/**` needs at least one segment: `feature/**` is not `feature`.
  if (tokens.length > 1 && tokens.at(-1)!.kind === "globstar") tokens.splice(-1, 0, { kind: "segment", tokens: [{ kind: "star" }] });
  const segments = value.split("/");
  return twoPointer(
    tokens,
    segments,
    (token) => token.kind === "globstar",
    (token, segment) =>
      token.kind === "segment" &&
      twoPointer(token.tokens, [...segment], (inner) => inner.kind === "star", (inner, char) => inner.kind === "one" && inner.test(char), budget),
    budget,
  );
}

/** A branch or tag glob against a name. Throws RangeError when `{…}` expands too far. */
export function matchPathGlob(glob: string, value: string, { ignoreCase = false, budget }: { ignoreCase?: boolean; budget?: StepBudget } = {}): boolean {
  return expandBraces(glob).some((one) => matchOnePathGlob(one, value, ignoreCase, budget));
}
