import { z } from "zod";
import { fullName } from "../../config/share-with.js";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { publishingRun, type GitHubRun } from "../github-run.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

const Body = z.string().min(1).describe("The comment, in GitHub Markdown.");

/**
 * `comment`: on the run's own pull request or issue, or, unless `ownOnly` (a fork's run), on any
 * issue or pull request of the repositories the run may write to.
 */
export function commentTool(own: GitHubRun, { ownOnly = false }: { ownOnly?: boolean } = {}): Tool {
  const ownNumber = own.pullRequest?.number ?? own.issueNumber;
  const post = async (run: GitHubRun, number: number, body: string) => {
    const where = `${fullName(run.repository)}#${number}`;
    const text = run.redact(body);
    own.writes.take(`the comment on ${where}`);
    if (run.dryRun) {
      run.dryRun.print(`[dry run] comment on ${where}:\n${text}`);
      return `Dry run: the comment on ${where} was printed, not posted.`;
    }
    const { data } = await run.octokit.rest.issues.createComment({ ...run.repository, issue_number: number, body: text });
    return `Posted ${data.html_url}`;
  };
  if (ownOnly) {
    return defineTool({
      name: "comment",
      description: "Post a comment on the pull request this run is about. Use create_review for comments on lines of a pull request.",
      input: z.object({ body: Body }),
      async execute({ body }) {
        if (ownNumber === undefined) throw new ToolError("this run is not about a pull request or an issue, so there is nothing to comment on");
        return post(own, ownNumber, body);
      },
    });
  }
  return defineTool({
    name: "comment",
    description:
      "Post a comment on an issue or pull request: by default the one this run is about; with number (and repository), any issue or pull request of the repositories this run may write to. Use create_review for comments on lines of a pull request.",
    input: z.object({
      body: Body,
      number: z.number().int().min(1).optional().describe("The issue or pull request to comment on. Default: the one this run is about."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ body, number, repository }) {
      const run = publishingRun(own, repository);
      const target = number ?? (run === own ? ownNumber : undefined);
      if (target === undefined) {
        throw new ToolError(run === own ? "this run is not about a pull request or an issue: give the number of the issue or pull request to comment on" : `give the number of the issue or pull request of ${fullName(run.repository)} to comment on`);
      }
      return post(run, target, body);
    },
  });
}
