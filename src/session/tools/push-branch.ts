import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { CLAUDE_BRANCH_PREFIX, branchProblem, commitChanges, hasNewCommits, pushHead, type PushOutcome } from "../git-publish.js";
import { publishingRun, type GitHubRun } from "../github-run.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

export function pushBranchTool(own: GitHubRun): Tool {
  return defineTool({
    name: "push_branch",
    description: `Commit the changes in the working tree and push them to a branch, creating it or adding to it (never forcing): on a branch that has commits this run did not make, your changes are committed on top of them. Only ${CLAUDE_BRANCH_PREFIX} branches, unless the routine allows others.`,
    input: z.object({
      branch: z.string().min(1).describe(`The branch, e.g. ${CLAUDE_BRANCH_PREFIX}${own.routine}-fix-typo.`),
      commit_message: z.string().min(1).describe("Message of the commit."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ branch, commit_message: message, repository }) {
      const run = publishingRun(own, repository);
      // Checked before anything is committed, so a refused push leaves the working tree as it was.
      const problem = branchProblem(branch, run.allowUnrestrictedBranchPushes);
      if (problem) throw new ToolError(problem);
      const commit = await commitChanges(run, message);
      if (!commit && !(await hasNewCommits(run))) throw new ToolError("there is nothing to push: edit files first");
      if (run.dryRun) {
        run.dryRun.print(`[dry run] push to ${branch}: ${message}`);
        return `Dry run: nothing was pushed to ${branch}.`;
      }
      return describe(branch, await pushHead(run, branch, message));
    },
  });
}

function describe(branch: string, outcome: PushOutcome): string {
  switch (outcome.kind) {
    case "created":
      return `Pushed to ${branch} (a new branch).`;
    case "updated":
      return `Pushed to ${branch}.`;
    case "added on top":
      return `Pushed to ${branch}: it had commits this run did not make, so your changes were committed on top of them as ${outcome.commit.slice(0, 7)}. The working tree now holds that commit, their changes included.`;
    case "up to date":
      return `There was nothing to push: ${branch} already has every commit of the working tree.`;
  }
}
