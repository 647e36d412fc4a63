import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { CLAUDE_BRANCH_PREFIX, branchProblem, commitChanges, hasNewCommits, pushHead } from "../git-publish.js";
import type { GitHubRun } from "../github-run.js";

export function pushBranchTool(run: GitHubRun): Tool {
  return defineTool({
    name: "push_branch",
    description: `Commit the changes in the working tree and push them to a branch, creating it or adding to it (never forcing). Only ${CLAUDE_BRANCH_PREFIX} branches, unless the routine allows others.`,
    input: z.object({
      branch: z.string().min(1).describe(`The branch, e.g. ${CLAUDE_BRANCH_PREFIX}${run.routine}-fix-typo.`),
      commit_message: z.string().min(1).describe("Message of the commit."),
    }),
    async execute({ branch, commit_message: message }) {
      // Checked before anything is committed, so a refused push leaves the working tree as it was.
      const problem = branchProblem(branch, run.allowUnrestrictedBranchPushes);
      if (problem) throw new ToolError(problem);
      const commit = await commitChanges(run, message);
      if (!commit && !(await hasNewCommits(run))) throw new ToolError("there is nothing to push: edit files first");
      if (run.dryRun) {
        run.dryRun.print(`[dry run] push to ${branch}: ${message}`);
        return `Dry run: nothing was pushed to ${branch}.`;
      }
      await pushHead(run, branch);
      return `Pushed to ${branch}.`;
    },
  });
}
