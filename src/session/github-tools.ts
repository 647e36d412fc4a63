// The tools that act on GitHub, bound to one run.
import type { Tool } from "./define-tool.js";
import type { GitHubRun } from "./github-run.js";
import { assignTool } from "./tools/assign.js";
import { closeIssueTool, reopenIssueTool } from "./tools/close-issue.js";
import { commentTool } from "./tools/comment.js";
import { createIssueTool } from "./tools/create-issue.js";
import { createReviewTool } from "./tools/create-review.js";
import { addLabelsTool, removeLabelTool } from "./tools/labels.js";
import { pullRequestDiffTool } from "./tools/pull-request-diff.js";
import { pullRequestFilesTool } from "./tools/pull-request-files.js";
import { openPullRequestTool } from "./tools/open-pull-request.js";
import { pushBranchTool } from "./tools/push-branch.js";
import { readIssueTool } from "./tools/read-issue.js";
import { reviewThreadsTool } from "./tools/review-threads.js";
import { settleReviewThreadTool } from "./tools/settle-review-thread.js";
import { searchIssuesTool } from "./tools/search-issues.js";

/**
 * What a run on a fork's pull request gets: it may comment on that pull request, review it and read
 * its earlier review threads, nothing else (no other issue, no code). It settles no thread: the
 * fork's own text steers it, and must not be able to make earlier findings look dealt with.
 */
export const reviewTools = (run: GitHubRun): Tool[] => [
  commentTool(run, { ownOnly: true }),
  pullRequestFilesTool(run),
  pullRequestDiffTool(run),
  createReviewTool(run),
  reviewThreadsTool(run),
];

export const githubTools = (run: GitHubRun): Tool[] => [
  commentTool(run),
  pullRequestFilesTool(run),
  pullRequestDiffTool(run),
  createReviewTool(run),
  reviewThreadsTool(run),
  settleReviewThreadTool(run),
  searchIssuesTool(run),
  readIssueTool(run),
  createIssueTool(run),
  addLabelsTool(run),
  removeLabelTool(run),
  assignTool(run),
  closeIssueTool(run),
  reopenIssueTool(run),
  openPullRequestTool(run),
  pushBranchTool(run),
];

/**
 * Tools whose calls leave marks outside the run (GitHub writes, and whatever a connector does): a
 * run that called one is never executed again after an interruption, so nothing is posted twice.
 */
export const PUBLISHING_TOOLS: ReadonlySet<string> = new Set([
  "comment",
  "create_review",
  "settle_review_thread",
  "create_issue",
  "add_labels",
  "remove_label",
  "assign",
  "close_issue",
  "reopen_issue",
  "open_pull_request",
  "push_branch",
]);
export const publishes = (toolName: string) => PUBLISHING_TOOLS.has(toolName) || toolName.startsWith("mcp__");
