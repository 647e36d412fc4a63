import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { listReviewThreads, ownThread, resolveReviewThread } from "../review-threads.js";

export function settleReviewThreadTool(run: GitHubRun): Tool {
  return defineTool({
    name: "settle_review_thread",
    description: [
      "Settle one of this routine's review threads (see review_threads) whose finding the pull request's new commits addressed:",
      'resolve it, or answer it "Addressed in <head commit>" (with your note) and leave resolving to the people.',
      "Only this routine's own threads can be settled. Each call is one GitHub write.",
    ].join(" "),
    input: z.object({
      thread_id: z.string().min(1).describe("The thread's id, as review_threads shows it (PRRT_…)."),
      action: z.enum(["resolve", "answer"]).describe('"resolve" marks the thread resolved; "answer" replies that the finding was addressed in the head commit.'),
      note: z.string().optional().describe("For answer: what changed, in a sentence."),
    }),
    async execute({ thread_id: threadId, action, note }) {
      const pr = run.pullRequest;
      if (!pr) throw new ToolError("this run is not about a pull request, so there are no review threads");
      const thread = (await listReviewThreads(run.octokit, run.repository, pr.number)).find((candidate) => candidate.id === threadId);
      if (!thread || !ownThread(thread, run.author.name, run.routine)) throw new ToolError(`${threadId} is not one of this routine's review threads on #${pr.number}; review_threads lists them`);
      if (action === "resolve") {
        if (thread.isResolved) return `${threadId} is already resolved.`;
        run.writes.take(`resolving ${threadId}`);
        if (run.dryRun) {
          run.dryRun.print(`[dry run] resolve review thread ${threadId} on #${pr.number} (${thread.path})`);
          return `Dry run: ${threadId} would be resolved.`;
        }
        await resolveReviewThread(run.octokit, threadId);
        return `Resolved ${threadId} (${thread.path}).`;
      }
      const root = thread.comments.nodes[0]!;
      const body = run.redact(`Addressed in ${pr.headSha}${note?.trim() ? `: ${note.trim()}` : "."}`);
      run.writes.take(`the answer to ${threadId}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] answer review thread ${threadId} on #${pr.number}: ${body}`);
        return `Dry run: the answer to ${threadId} was printed, not posted.`;
      }
      const { data } = await run.octokit.rest.pulls.createReplyForReviewComment({ ...run.repository, pull_number: pr.number, comment_id: root.databaseId, body });
      return `Answered ${threadId}: ${data.html_url}`;
    },
  });
}
