// The findings the app already posted on a pull request, read from GitHub's review comments and
// reviews. Only the app's own count: anyone can write a comment that carries a copy of its hidden
// mark, and such a comment must not silence a finding.
import { FINDING, FINGERPRINT } from "./github-run.js";
import type { PostedFinding } from "./findings.js";

/** A review comment as GitHub's REST API lists it, with the fields read here. */
export interface ReviewCommentData {
  body: string;
  path: string;
  line?: number | null;
  start_line?: number | null;
  original_line?: number | null;
  original_start_line?: number | null;
  side?: string | null;
  in_reply_to_id?: number;
  html_url?: string;
  user?: { login: string } | null;
}

export interface ReviewData {
  body?: string | null;
  html_url?: string;
  user?: { login: string } | null;
}

export interface Posted {
  /** Exact fingerprints of everything posted (findings and summaries). */
  fingerprints: Set<string>;
  findings: PostedFinding[];
}

const range = (start: number | null | undefined, end: number | null | undefined): Array<[number, number]> =>
  typeof end === "number" ? [[typeof start === "number" ? start : end, end]] : [];

/** How a summary introduces a finding outside the diff (create_review); the header is not part of its wording. */
export const OUTSIDE_THE_DIFF = "(outside the diff):";

export function postedFindings(comments: readonly ReviewCommentData[], reviews: readonly ReviewData[], bot: string): Posted {
  const own = (user: { login: string } | null | undefined) => user?.login === bot;
  const fingerprints = new Set<string>();
  const findings: PostedFinding[] = [];
  for (const comment of comments) {
    if (!own(comment.user)) continue;
    const mark = FINGERPRINT.exec(comment.body);
    if (!mark) continue;
    fingerprints.add(mark[1]!);
    // Replies are answers to a finding, not findings.
    if (comment.in_reply_to_id !== undefined && comment.in_reply_to_id !== null) continue;
    const ranges = [...range(comment.start_line, comment.line), ...range(comment.original_start_line, comment.original_line)];
    findings.push({ path: comment.path, side: comment.side === "LEFT" ? "LEFT" : "RIGHT", ranges, body: comment.body, ...(comment.html_url ? { url: comment.html_url } : {}) });
  }
  for (const review of reviews) {
    const body = review.body ?? "";
    if (!own(review.user)) continue;
    for (const match of body.matchAll(new RegExp(FINGERPRINT, "g"))) fingerprints.add(match[1]!);
    // A finding in a summary is the text between the mark before it and its own.
    let from = 0;
    for (const match of body.matchAll(new RegExp(FINGERPRINT, "g"))) {
      const text = body.slice(from, match.index);
      from = match.index + match[0].length;
      const place = FINDING.exec(match[0]);
      if (!place) continue;
      const [, , , path, side, start, end] = place;
      const header = text.lastIndexOf(OUTSIDE_THE_DIFF);
      findings.push({
        path: decodeURIComponent(path!),
        side: side as "LEFT" | "RIGHT",
        ranges: [[Number(start), Number(end)]],
        body: (header < 0 ? text : text.slice(header + OUTSIDE_THE_DIFF.length)).trim(),
        ...(review.html_url ? { url: review.html_url } : {}),
      });
    }
  }
  return { fingerprints, findings };
}
