import { createHash } from "node:crypto";
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { commentableLines, diffLineKey } from "../diff-lines.js";
import { repeatedFinding, type Finding, type PostedFinding } from "../findings.js";
import { findingMark, fingerprintMark, type GitHubRun } from "../github-run.js";
import { OUTSIDE_THE_DIFF, postedFindings } from "../posted-findings.js";
import { codeAround } from "../finding-code.js";

const Comment = z.object({
  path: z.string().min(1).describe("File path as in the diff."),
  line: z.number().int().min(1).describe("Line the comment is on (the last line of a range)."),
  start_line: z.number().int().min(1).optional().describe("First line of a multi-line range, in the same hunk of the diff as line."),
  side: z.enum(["RIGHT", "LEFT"]).optional().describe("RIGHT (default) for the new version, LEFT for removed lines."),
  body: z.string().min(1).describe("The comment, in GitHub Markdown."),
  suggestion: z.string().optional().describe("Replacement text for the commented lines, shown as a suggestion the author can apply."),
});

const fingerprint = (...parts: Array<string | number | undefined>) => createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 16);

/**
 * A range whose ends lie in different hunks, as a comment on its last line: GitHub rejects the
 * whole review (422) for such a range. A suggestion would replace that one line, so it is shown as
 * code instead.
 */
function onLastLine(comment: z.output<typeof Comment>): string {
  const lines = `lines ${comment.start_line}-${comment.line}`;
  const suggestion = comment.suggestion === undefined ? [] : [`Suggested replacement for ${lines}:`, `\`\`\`\n${comment.suggestion}\n\`\`\``];
  const note = `_About ${lines}; shown on line ${comment.line} because the range spans more than one hunk of the diff._`;
  return [comment.body, ...suggestion, note].join("\n\n");
}

/**
 * A path as a Markdown code span, whatever it holds: a fence longer than any run of backticks in
 * it (CommonMark's rule), and no "<!--", so a path cannot end the span early nor carry a mark of
 * the app's own into the raw text that later runs read.
 */
export function pathSpan(path: string): string {
  const flat = path.replace(/[\r\n]/g, " ").replaceAll("<!--", "&lt;!--");
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** "src/a.ts line 3", "src/a.ts lines 3-5"; without a path, the lines alone. */
const where = (path: string | undefined, place: Pick<Finding, "start" | "end">) =>
  `${path === undefined ? "" : `${path} `}${place.start === place.end ? `line ${place.end}` : `lines ${place.start}-${place.end}`}`;

type Checked = { where: string; reason: string };

/** The findings that survive the routine's verifier (all of them without one), and those it rejected or could not check. */
async function secondLook<T extends { comment: { path: string }; place: Finding }>(
  run: GitHubRun,
  candidates: T[],
  files: ReadonlyArray<{ filename: string; patch?: string | undefined }>,
): Promise<{ kept: T[]; rejected: Checked[]; unchecked: Checked[] }> {
  const verifier = run.review?.verifier;
  if (!verifier) return { kept: candidates, rejected: [], unchecked: [] };
  const kept: T[] = [];
  const rejected: Checked[] = [];
  const unchecked: Checked[] = [];
  // One at a time: each call is weighed against what the run has left after the one before.
  for (const candidate of candidates) {
    const verdict = await verifier.check(candidate.place, await codeAround(run, candidate.place, files));
    const at = where(candidate.comment.path, candidate.place);
    if (verdict.verdict === "reject") {
      rejected.push({ where: at, reason: verdict.reason });
      continue;
    }
    if (verdict.verdict === "unchecked") unchecked.push({ where: at, reason: verdict.reason });
    kept.push(candidate);
  }
  return { kept, rejected, unchecked };
}

export function createReviewTool(run: GitHubRun): Tool {
  return defineTool({
    name: "create_review",
    description: [
      "Post one review on the pull request: a summary and inline comments on lines of its diff.",
      "A comment on a line outside the diff is put into the summary with its location instead.",
      "A range (start_line to line) must lie within one hunk of the diff; a range across hunks is put on its last line.",
      "A comment equal in substance to a finding already posted on the pull request (open or resolved) is not posted again:",
      "same file and side, overlapping lines, and the same wording once case, punctuation, Markdown, numbers and code in backticks are set aside.",
      "When the routine has review.verify, each new finding is first checked against the code by a second model; a rejected one is not posted.",
      "The summary ends with a line saying how many of the changed files were reviewed (read with pull_request_diff or view, or commented on) and which were not.",
      "The result names what was left out and why. See your earlier findings with review_threads before reviewing again.",
    ].join(" "),
    input: z.object({
      body: z.string().min(1).describe("The review's summary."),
      event: z.enum(["COMMENT", "REQUEST_CHANGES"]).optional().describe("COMMENT (default), or REQUEST_CHANGES for problems that must be fixed before merging."),
      comments: z.array(Comment).describe("Inline comments; may be empty."),
    }),
    async execute({ body, event = "COMMENT", comments }) {
      const pr = run.pullRequest;
      if (!pr) throw new ToolError("this run is not about a pull request, so there is nothing to review");
      const target = { ...run.repository, pull_number: pr.number };
      // The files as the run listed them at its start: the review goes on the same head commit.
      const files = run.review
        ? run.review.files.map((file) => ({ filename: file.path, ...(file.patch ? { patch: file.patch } : {}) }))
        : await run.octokit.paginate(run.octokit.rest.pulls.listFiles, { ...target, per_page: 100 });
      const inDiff = commentableLines(files);
      const { fingerprints: posted, findings } = postedFindings(
        await run.octokit.paginate(run.octokit.rest.pulls.listReviewComments, { ...target, per_page: 100 }),
        await run.octokit.paginate(run.octokit.rest.pulls.listReviews, { ...target, per_page: 100 }),
        run.author.name,
      );
      // A comment on a file is a look at it, whatever becomes of the comment.
      for (const comment of comments) run.review?.coverage.saw(comment.path);

      let repeated = 0;
      const dropped: Array<{ where: string; earlier: PostedFinding }> = [];
      const candidates: Array<{ comment: z.output<typeof Comment>; text: string; mark: string; place: Finding; range: boolean }> = [];
      for (const comment of comments) {
        const side = comment.side ?? "RIGHT";
        const text = run.redact(comment.suggestion === undefined ? comment.body : `${comment.body}\n\n\`\`\`suggestion\n${comment.suggestion}\n\`\`\``);
        const mark = fingerprint(comment.path, side, comment.start_line, comment.line, text);
        if (posted.has(mark)) {
          repeated += 1;
          continue;
        }
        const range = comment.start_line !== undefined && comment.start_line < comment.line;
        // The path goes into hidden marks and summaries: through the redactor like every text.
        const place = { path: run.redact(comment.path), side, start: range ? comment.start_line! : comment.line, end: comment.line, body: text };
        const earlier = repeatedFinding(place, findings);
        if (earlier) {
          dropped.push({ where: where(comment.path, place), earlier });
          continue;
        }
        candidates.push({ comment, text, mark, place, range });
      }

      // With review.verify, each new finding gets a second look before anything is posted.
      const { kept, rejected, unchecked } = await secondLook(run, candidates, files);

      const inline: Array<{ path: string; line: number; side: "RIGHT" | "LEFT"; start_line?: number; start_side?: "RIGHT" | "LEFT"; body: string }> = [];
      const outside: string[] = [];
      let acrossHunks = 0;
      for (const { comment, text, mark, place, range } of kept) {
        const { side } = place;
        const marked = (body: string) => run.redact(`${body}\n\n${findingMark(mark, run.routine, place)}`);
        const hunk = inDiff.get(diffLineKey(comment.path, side, comment.line));
        const startHunk = range ? inDiff.get(diffLineKey(comment.path, side, comment.start_line!)) : hunk;
        if (hunk !== undefined && startHunk === hunk) {
          inline.push({ path: comment.path, line: comment.line, side, ...(range ? { start_line: comment.start_line!, start_side: side } : {}), body: marked(text) });
        } else if (hunk !== undefined && startHunk !== undefined) {
          acrossHunks += 1;
          inline.push({ path: comment.path, line: comment.line, side, body: marked(run.redact(onLastLine(comment))) });
        } else {
          outside.push(marked(`**${pathSpan(comment.path)} ${where(undefined, place)}** ${OUTSIDE_THE_DIFF}\n\n${text}`));
        }
      }
      const summary = run.redact(body);
      const summaryMark = fingerprint("review", summary);
      const left = [
        dropped.length === 0 ? "" : `\nNot posted, equal in substance to a finding already on the pull request (same lines, same wording):\n${dropped.map(({ where, earlier }) => `- ${where}: as ${earlier.url ?? "an earlier finding"}`).join("\n")}`,
        rejected.length === 0 ? "" : `\nNot posted, rejected when checked against the code:\n${rejected.map(({ where, reason }) => `- ${where}: ${reason}`).join("\n")}`,
        unchecked.length === 0 ? "" : `\nPosted without a check (the check gave no verdict):\n${unchecked.map(({ where, reason }) => `- ${where}: ${reason}`).join("\n")}`,
      ].join("");
      if (inline.length === 0 && outside.length === 0 && (posted.has(summaryMark) || dropped.length > 0 || rejected.length > 0)) {
        const why =
          rejected.length > 0
            ? "every new finding was rejected when checked against the code, or repeats an earlier one (say in your outcome that nothing was found to post)."
            : dropped.length > 0
              ? "every comment repeats an earlier finding (say in your outcome what is still open)."
              : "this review was already posted.";
        return { output: `Nothing new to post: ${why}${left}`, published: false };
      }
      const coverage = run.review?.coverage.line();
      const reviewBody = [summary, ...outside, ...(coverage ? [`<sub>${coverage}</sub>`] : []), fingerprintMark(summaryMark)].join("\n\n");
      const narrowed = acrossHunks === 0 ? "" : ` (${acrossHunks} range${acrossHunks === 1 ? "" : "s"} across hunks put on ${acrossHunks === 1 ? "its" : "their"} last line)`;
      const counts = `${inline.length} inline comment${inline.length === 1 ? "" : "s"}${narrowed}, ${outside.length} moved into the summary (outside the diff), ${repeated + dropped.length} already posted${run.review?.verifier ? `, ${rejected.length} rejected when checked` : ""}`;
      const covered = coverage ? `\nThe review ends with its coverage: ${coverage}` : "";
      run.writes.take(`the review on #${pr.number}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] ${event} review on #${pr.number} (${counts}):\n${reviewBody}\n${inline.map((c) => `  ${c.path}:${c.line} ${c.body}`).join("\n")}`);
        return { output: `Dry run: the review was printed, not posted (${counts}).${left}`, published: false };
      }
      // All inline comments go out in one request, on the commit the run looked at.
      const { data } = await run.octokit.rest.pulls.createReview({ ...target, commit_id: pr.headSha, event, body: reviewBody, comments: inline });
      return `Posted ${data.html_url} with ${counts}.${covered}${left}`;
    },
  });
}
