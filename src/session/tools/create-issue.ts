import { z } from "zod";
import { defineTool, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { writingRun } from "./issue-write.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

export function createIssueTool(own: GitHubRun): Tool {
  return defineTool({
    name: "create_issue",
    description: "Open an issue in this repository, or in another of the run's repositories that shares write access with it.",
    input: z.object({
      title: z.string().min(1).max(256).describe("The issue's title."),
      body: z.string().describe("The issue's description, in GitHub Markdown."),
      labels: z.array(z.string().min(1).max(50)).optional().describe("Labels to put on it (existing labels of the repository)."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ title, body, labels = [], repository }) {
      const { run, name } = writingRun(own, repository);
      const issue = { ...run.repository, title: run.redact(title), body: run.redact(body), ...(labels.length > 0 ? { labels: labels.map((label) => run.redact(label)) } : {}) };
      own.writes.take(`the new issue in ${name}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] open an issue in ${name}${labels.length > 0 ? ` labelled ${issue.labels!.join(", ")}` : ""}: ${issue.title}\n${issue.body}`);
        return `Dry run: the issue was printed, not opened.`;
      }
      const { data } = await run.octokit.rest.issues.create(issue);
      return `Opened ${name}#${data.number}: ${data.html_url}`;
    },
  });
}
