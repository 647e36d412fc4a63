// close_issue and reopen_issue: the state of an issue or pull request.
import { z } from "zod";
import { defineTool, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { notFound, writingRun } from "./issue-write.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

const IssueNumber = z.number().int().min(1).describe("The issue or pull request number.");

export function closeIssueTool(own: GitHubRun): Tool {
  return defineTool({
    name: "close_issue",
    description: "Close an issue (or pull request) as completed or not planned, optionally with a comment saying why (posted first).",
    input: z.object({
      number: IssueNumber,
      reason: z.enum(["completed", "not_planned"]).optional().describe("completed (default) or not_planned."),
      comment: z.string().min(1).optional().describe("A comment to post before closing, in GitHub Markdown."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ number, reason = "completed", comment, repository }) {
      const { run, name } = writingRun(own, repository);
      const where = `${name}#${number}`;
      const text = comment === undefined ? undefined : run.redact(comment);
      // The comment and the close are two writes, counted together so neither goes out alone at the cap.
      own.writes.take(`closing ${where}${text === undefined ? "" : " with a comment"}`, text === undefined ? 1 : 2);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] close ${where} as ${reason}${text === undefined ? "" : `, after the comment:\n${text}`}`);
        return `Dry run: ${where} was not closed.`;
      }
      const target = { ...run.repository, issue_number: number };
      if (text !== undefined) await run.octokit.rest.issues.createComment({ ...target, body: text }).catch(notFound(where));
      const { data } = await run.octokit.rest.issues.update({ ...target, state: "closed", state_reason: reason }).catch(notFound(where));
      return `Closed ${where} as ${data.state_reason ?? reason}${text === undefined ? "" : ", with a comment"}: ${data.html_url}`;
    },
  });
}

export function reopenIssueTool(own: GitHubRun): Tool {
  return defineTool({
    name: "reopen_issue",
    description: "Reopen a closed issue (or pull request).",
    input: z.object({ number: IssueNumber, repository: REPOSITORY_INPUT }),
    async execute({ number, repository }) {
      const { run, name } = writingRun(own, repository);
      const where = `${name}#${number}`;
      own.writes.take(`reopening ${where}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] reopen ${where}`);
        return `Dry run: ${where} was not reopened.`;
      }
      const { data } = await run.octokit.rest.issues.update({ ...run.repository, issue_number: number, state: "open", state_reason: "reopened" }).catch(notFound(where));
      return `Reopened ${where}: ${data.html_url}`;
    },
  });
}
