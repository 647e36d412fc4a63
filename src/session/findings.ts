// When a review finding is "the same" as one already on the pull request: the same file and side,
// overlapping lines, and the same wording once what a rewording changes without changing the
// point is taken out. A re-review that says an old thing again in new words adds noise, not news.
//
// Wording is compared after normalising it:
// - hidden marks, suggestion blocks and the notes the harness adds are dropped;
// - code (in backticks or fenced) becomes the word "code", numbers become "0": renaming
//   `maxRetries` to `MAX_RETRIES` or "3 tries" to "4 tries" is the same remark;
// - Markdown (emphasis, headings, quotes, links) is reduced to its words; case, punctuation and
//   whitespace are ignored.
// Two wordings are the same when they are equal after that, or when their sets of words overlap
// by at least SAME_WORDS (Jaccard index): the same words in another order, or with a word changed
// in a long remark, are still the same remark. Short remarks that differ by a word stay different.
import type { Side } from "./diff-lines.js";

export interface Finding {
  path: string;
  side: Side;
  /** First and last line (equal for a one-line finding). */
  start: number;
  end: number;
  body: string;
}

/** A finding already on the pull request, at every place GitHub knows it (now, and where it was posted). */
export interface PostedFinding {
  path: string;
  side: Side;
  ranges: Array<[number, number]>;
  body: string;
  /** Where a reader finds it. */
  url?: string;
}

/** The share of words two wordings must have in common to be the same remark. */
export const SAME_WORDS = 0.75;

/** The wording of a finding as it is compared: see the top of the file. */
export function normaliseWording(text: string): string {
  return text
    .replace(/<!--[^]*?-->/g, " ")
    .replace(/```suggestion\b[^]*?```/g, " ")
    .replace(/^_About lines \d+-\d+; shown on line \d+ because[^\n]*_$/gm, " ")
    .replace(/^Suggested replacement for lines \d+-\d+:$/gm, " ")
    .replace(/```[^]*?```/g, " code ")
    .replace(/`[^`\n]+`/g, " code ")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, " $1 ")
    .replace(/\d+(?:[.,]\d+)*/g, " 0 ")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

function sameWording(a: string, b: string): boolean {
  if (a === b) return true;
  const left = new Set(a.split(" ").filter(Boolean));
  const right = new Set(b.split(" ").filter(Boolean));
  if (left.size === 0 || right.size === 0) return false;
  let common = 0;
  for (const word of left) if (right.has(word)) common += 1;
  return common / (left.size + right.size - common) >= SAME_WORDS;
}

const overlaps = ([start, end]: [number, number], finding: Finding) => start <= finding.end && finding.start <= end;

/** The posted finding that `finding` repeats in substance, if any. */
export function repeatedFinding(finding: Finding, posted: readonly PostedFinding[]): PostedFinding | undefined {
  const wording = normaliseWording(finding.body);
  return posted.find(
    (earlier) =>
      earlier.path === finding.path &&
      earlier.side === finding.side &&
      earlier.ranges.some((range) => overlaps(range, finding)) &&
      sameWording(normaliseWording(earlier.body), wording),
  );
}
