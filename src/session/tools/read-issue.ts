import { z } from "zod";
import { fullName } from "../../config/share-with.js";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { readingTarget, type GitHubRun } from "../github-run.js";
import { untrustedFrame } from "../untrusted.js";
import { issueLine } from "./issue-format.js";
import { READ_REPOSITORY_INPUT } from "./repository-input.js";

/** The latest comments shown; older ones are counted, not shown. */
const MAX_COMMENTS = 100;

export function readIssueTool(run: GitHubRun): Tool {
  return defineTool({
    name: "read_issue",
    readOnly: true,
    description: "Read an issue or pull request of one of this run's repositories: its title, state, labels, assignees, author, description and comments.",
    input: z.object({
      number: z.number().int().min(1).describe("The issue or pull request number."),
      repository: READ_REPOSITORY_INPUT,
    }),
    async execute({ number, repository }) {
      const target = readingTarget(run, repository);
      const name = fullName(target.repository);
      const where = { ...target.repository, issue_number: number };
      const issue = await target.octokit.rest.issues.get(where).then(
        ({ data }) => data,
        (error: unknown) => {
          if ((error as { status?: number }).status === 404) throw new ToolError(`${name}#${number} does not exist`);
          throw error;
        },
      );
      const comments = issue.comments === 0 ? [] : await target.octokit.paginate(target.octokit.rest.issues.listComments, { ...where, per_page: 100 });
      const shown = comments.slice(-MAX_COMMENTS);
      const thread = shown.map((comment) => `--- ${comment.user?.login ?? "unknown"} at ${comment.created_at}:\n${comment.body ?? ""}`).join("\n\n");
      const older = comments.length - shown.length;
      return [
        `${name}#${number}: ${issue.html_url}`,
        untrustedFrame(`${name}#${number}`, `${issueLine(issue)}\n\n${issue.body ?? "(no description)"}`),
        comments.length === 0 ? "No comments." : `${comments.length} comment${comments.length === 1 ? "" : "s"}${older > 0 ? ` (the ${older} oldest not shown)` : ""}, oldest first:`,
        ...(shown.length > 0 ? [untrustedFrame(`comments on ${name}#${number}`, thread)] : []),
      ].join("\n");
    },
  });
}
