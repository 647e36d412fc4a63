import { z } from "zod";
import type { Octokit } from "../../config/read-config-file.js";
import type { RepositoryId } from "../../run-request.js";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { listReviewThreads, ownThread, withoutMarks, type ReviewThread } from "../review-threads.js";
import { untrustedFrame } from "../untrusted.js";

/** Lines of code shown around a thread's lines. */
const AROUND = 3;
/** Longest range of a thread's code shown whole. */
const MAX_SHOWN = 40;

/** A file of the pull request's head, by the contents API; undefined when it is not there. */
async function fileAt(octokit: Octokit, repository: RepositoryId, path: string, ref: string): Promise<string[] | undefined> {
  try {
    const { data } = await octokit.rest.repos.getContent({ ...repository, path, ref });
    const file = data as { type?: string; content?: string; encoding?: string };
    return file.type === "file" && file.encoding === "base64" ? Buffer.from(file.content ?? "", "base64").toString("utf8").split("\n") : undefined;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

const lines = (start: number, end: number) => (start === end ? `line ${end}` : `lines ${start}-${end}`);

function describeThread(thread: ReviewThread, file: string[] | undefined, bot: string): string {
  const [first, ...replies] = thread.comments.nodes;
  const posted = thread.originalLine === null ? undefined : ([thread.originalStartLine ?? thread.originalLine, thread.originalLine] as const);
  const now = thread.line === null ? undefined : ([thread.startLine ?? thread.line, thread.line] as const);
  const state = [thread.isResolved ? "resolved" : "open", ...(thread.isOutdated ? ["outdated (its lines changed since it was posted)"] : [])].join(", ");
  const where = now ? lines(...now) : posted ? `posted on ${lines(...posted)}` : "no line";
  const parts = [`Thread ${thread.id} (${state}) on ${thread.path}, ${where}${thread.diffSide === "LEFT" ? " of the old version" : ""}:`, `Your finding: ${withoutMarks(first?.body ?? "")}`];
  for (const reply of replies) {
    const author = reply.author?.login ?? "ghost";
    // Replies by others are outside text; the app's own are its earlier answers.
    parts.push(author === bot || `${author}[bot]` === bot ? `Your reply: ${withoutMarks(reply.body)}` : untrustedFrame(`reply by ${author}`, reply.body));
  }
  const range = now ?? posted;
  if (thread.diffSide === "RIGHT" && range) {
    if (!file) parts.push(`${thread.path} is not in the pull request's head any more.`);
    else {
      const from = Math.max(1, range[0] - AROUND);
      const to = Math.min(file.length, Math.min(range[1], range[0] + MAX_SHOWN) + AROUND);
      const width = String(to).length;
      const shown = file.slice(from - 1, to).map((text, i) => `${from + i >= range[0] && from + i <= range[1] ? ">" : " "} ${String(from + i).padStart(width)}  ${text}`);
      parts.push(`The code at the head now, ${lines(from, to)} (> marks the thread's ${now ? "lines" : "old line numbers"}):`, untrustedFrame("code", shown.join("\n")));
    }
  }
  return parts.join("\n");
}

export function reviewThreadsTool(run: GitHubRun): Tool {
  return defineTool({
    name: "review_threads",
    readOnly: true,
    description: [
      "List the review threads this routine started on the pull request (open and resolved), each with its finding, the replies, and the code at the head now.",
      "Look before reviewing again: a thread whose finding the new commits addressed can be settled with settle_review_thread; a finding still open need not be posted again.",
    ].join(" "),
    input: z.object({
      include_resolved: z.boolean().optional().describe("Also list resolved threads (default true)."),
    }),
    async execute({ include_resolved: includeResolved = true }) {
      const pr = run.pullRequest;
      if (!pr) throw new ToolError("this run is not about a pull request, so there are no review threads");
      const all = await listReviewThreads(run.octokit, run.repository, pr.number);
      const own = all.filter((thread) => ownThread(thread, run.author.name, run.routine));
      const shown = own.filter((thread) => includeResolved || !thread.isResolved);
      if (shown.length === 0) return own.length === 0 ? "This routine has no review threads on this pull request." : "All of this routine's review threads on this pull request are resolved.";
      const files = new Map<string, Promise<string[] | undefined>>();
      const described: string[] = [];
      for (const thread of shown) {
        if (!files.has(thread.path)) files.set(thread.path, fileAt(run.octokit, run.repository, thread.path, pr.headSha));
        described.push(describeThread(thread, await files.get(thread.path)!, run.author.name));
      }
      const open = own.filter((thread) => !thread.isResolved).length;
      return `${own.length} thread${own.length === 1 ? "" : "s"} of this routine (${open} open, ${own.length - open} resolved), at head ${pr.headSha}:\n\n${described.join("\n\n")}`;
    },
  });
}
