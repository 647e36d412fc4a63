// The tools that act on GitHub, bound to one run.
import type { Tool } from "./define-tool.js";
import type { GitHubRun } from "./github-run.js";
import { commentTool } from "./tools/comment.js";
import { createReviewTool } from "./tools/create-review.js";
import { openPullRequestTool } from "./tools/open-pull-request.js";
import { pushBranchTool } from "./tools/push-branch.js";

/** What a run on a fork's pull request gets: it may comment and review, never write code. */
export const reviewTools = (run: GitHubRun): Tool[] => [commentTool(run), createReviewTool(run)];

export const githubTools = (run: GitHubRun): Tool[] => [...reviewTools(run), openPullRequestTool(run), pushBranchTool(run)];

/**
 * Tools whose calls leave marks outside the run (GitHub writes, and whatever a connector does): a
 * run that called one is never executed again after an interruption, so nothing is posted twice.
 */
export const PUBLISHING_TOOLS: ReadonlySet<string> = new Set(["comment", "create_review", "open_pull_request", "push_branch"]);
export const publishes = (toolName: string) => PUBLISHING_TOOLS.has(toolName) || toolName.startsWith("mcp__");
