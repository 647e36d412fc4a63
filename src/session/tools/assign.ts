import { z } from "zod";
import { defineTool, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { notFound, writingRun } from "./issue-write.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

export function assignTool(own: GitHubRun): Tool {
  return defineTool({
    name: "assign",
    description: "Assign people to an issue or pull request, by GitHub login. GitHub leaves out anyone who cannot be assigned in the repository; the result says who is assigned.",
    input: z.object({
      number: z.number().int().min(1).describe("The issue or pull request number."),
      assignees: z.array(z.string().min(1).max(39)).min(1).max(10).describe("GitHub logins."),
      repository: REPOSITORY_INPUT,
    }),
    async execute({ number, assignees, repository }) {
      const { run, name } = writingRun(own, repository);
      const where = `${name}#${number}`;
      const logins = assignees.map((login) => run.redact(login));
      own.writes.take(`the assignment of ${where}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] assign ${where} to ${logins.join(", ")}`);
        return `Dry run: nobody was assigned.`;
      }
      const { data } = await run.octokit.rest.issues.addAssignees({ ...run.repository, issue_number: number, assignees: logins }).catch(notFound(where));
      const now = (data.assignees ?? []).map((user) => user.login);
      const left = logins.filter((login) => !now.some((assigned) => assigned.toLowerCase() === login.toLowerCase()));
      return `${where} is assigned to ${now.join(", ") || "nobody"}${left.length > 0 ? `; GitHub did not assign ${left.join(", ")} (not a collaborator of ${name}?)` : ""}`;
    },
  });
}
