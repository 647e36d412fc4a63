import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { CLAUDE_BRANCH_PREFIX, commitChanges, hasNewCommits, pushHead } from "../git-publish.js";
import { publishingRun, type GitHubRun } from "../github-run.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

export function openPullRequestTool(own: GitHubRun): Tool {
  return defineTool({
    name: "open_pull_request",
    description: `Commit the changes in the working tree, push them to a new branch ${CLAUDE_BRANCH_PREFIX}${own.routine}-<id>, and open a pull request (a draft unless draft is false) into the default branch.`,
    input: z.object({
      title: z.string().min(1).max(256).describe("The pull request's title."),
      body: z.string().describe("The pull request's description: what changed and why, and how it was checked."),
      commit_message: z.string().min(1).optional().describe("Message of the commit; default: the title."),
      draft: z.boolean().optional().describe("Open as a draft (default true)."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ title, body, commit_message: message, draft = true, repository }) {
      const run = publishingRun(own, repository);
      const commit = await commitChanges(run, message ?? title);
      if (!commit && !(await hasNewCommits(run))) throw new ToolError("there are no changes to propose: edit files first");
      const branch = `${CLAUDE_BRANCH_PREFIX}${run.routine}-${run.runId.slice(-8)}`;
      const pull = { ...run.repository, head: branch, base: run.defaultBranch, title: run.redact(title), body: run.redact(body), draft };
      own.writes.take(`the pull request ${pull.title}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] push ${branch} and open ${draft ? "a draft " : "a "}pull request into ${run.defaultBranch}: ${pull.title}\n${pull.body}`);
        return `Dry run: ${branch} was not pushed and no pull request was opened.`;
      }
      await pushHead(run, branch, message ?? title);
      const { data } = await run.octokit.rest.pulls.create(pull);
      return `Pushed ${branch} and opened ${data.html_url}`;
    },
  });
}
