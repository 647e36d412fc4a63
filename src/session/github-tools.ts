// The tools that act on GitHub, bound to one run.
import type { Tool } from "./define-tool.js";
import type { GitHubRun } from "./github-run.js";
import { commentTool } from "./tools/comment.js";
import { createReviewTool } from "./tools/create-review.js";
import { openPullRequestTool } from "./tools/open-pull-request.js";
import { pushBranchTool } from "./tools/push-branch.js";

export const githubTools = (run: GitHubRun): Tool[] => [commentTool(run), createReviewTool(run), openPullRequestTool(run), pushBranchTool(run)];
