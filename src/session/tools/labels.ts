// add_labels and remove_label: the labels of an issue or pull request.
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import { notFound, writingRun } from "./issue-write.js";
import { REPOSITORY_INPUT } from "./repository-input.js";

const IssueNumber = z.number().int().min(1).describe("The issue or pull request number.");
const Label = z.string().min(1).max(50);

export function addLabelsTool(own: GitHubRun): Tool {
  return defineTool({
    name: "add_labels",
    description: "Add labels to an issue or pull request (a label the repository lacks is created by GitHub).",
    input: z.object({ number: IssueNumber, labels: z.array(Label).min(1).max(20).describe("The labels to add."), repository: REPOSITORY_INPUT }),
    async execute({ number, labels, repository }) {
      const { run, name } = writingRun(own, repository);
      const where = `${name}#${number}`;
      const added = labels.map((label) => run.redact(label));
      own.writes.take(`the labels on ${where}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] label ${where}: ${added.join(", ")}`);
        return `Dry run: the labels were printed, not added.`;
      }
      const { data } = await run.octokit.rest.issues.addLabels({ ...run.repository, issue_number: number, labels: added }).catch(notFound(where));
      return `${where} now has the labels: ${data.map((label) => label.name).join(", ")}`;
    },
  });
}

export function removeLabelTool(own: GitHubRun): Tool {
  return defineTool({
    name: "remove_label",
    description: "Remove a label from an issue or pull request.",
    input: z.object({ number: IssueNumber, label: Label.describe("The label to remove."), repository: REPOSITORY_INPUT }),
    async execute({ number, label, repository }) {
      const { run, name } = writingRun(own, repository);
      const where = `${name}#${number}`;
      const removed = run.redact(label);
      own.writes.take(`removing ${removed} from ${where}`);
      if (run.dryRun) {
        run.dryRun.print(`[dry run] remove the label ${removed} from ${where}`);
        return `Dry run: the label was not removed.`;
      }
      const { data } = await run.octokit.rest.issues.removeLabel({ ...run.repository, issue_number: number, name: removed }).catch((error: unknown) => {
        if ((error as { status?: number }).status === 404) throw new ToolError(`${where} does not exist or has no label ${removed}`);
        throw error;
      });
      return `Removed ${removed} from ${where}; its labels: ${data.map((left) => left.name).join(", ") || "none"}`;
    },
  });
}
