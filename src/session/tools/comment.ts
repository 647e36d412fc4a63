import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";

export function commentTool(run: GitHubRun): Tool {
  return defineTool({
    name: "comment",
    description: "Post a comment on the pull request or issue this run is about. Use create_review for comments on lines of a pull request.",
    input: z.object({ body: z.string().min(1).describe("The comment, in GitHub Markdown.") }),
    async execute({ body }) {
      const number = run.pullRequest?.number ?? run.issueNumber;
      if (number === undefined) throw new ToolError("this run is not about a pull request or an issue, so there is nothing to comment on");
      const text = run.redact(body);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] comment on #${number}:\n${text}`);
        return `Dry run: the comment on #${number} was printed, not posted.`;
      }
      const { data } = await run.octokit.rest.issues.createComment({ ...run.repository, issue_number: number, body: text });
      return `Posted ${data.html_url}`;
    },
  });
}
