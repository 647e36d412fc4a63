import { z } from "zod";
import { fullName } from "../../config/share-with.js";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { readingTarget, type GitHubRun } from "../github-run.js";
import { untrustedFrame } from "../untrusted.js";
import { issueLine } from "./issue-format.js";
import { READ_REPOSITORY_INPUT } from "./repository-input.js";

/**
 * Qualifiers that choose where GitHub searches: the tool writes the repository itself, so a query
 * naming another one (or an owner, or a whole organisation) is refused rather than widened.
 */
const SCOPE_QUALIFIER = /\b(repo|repository|org|organization|user|owner)\s*:/i;
/** Boolean operators and grouping could lift the tool's repository qualifier off part of the query. */
const BOOLEAN = /\b(OR|AND|NOT)\b|[()]/;

/** Why the query cannot be searched as written, or undefined. */
export function queryProblem(query: string): string | undefined {
  const scope = SCOPE_QUALIFIER.exec(query);
  if (scope) return `the query may not name where to search (${scope[1]!.toLowerCase()}:): the tool searches one repository of this run, given with repository`;
  const operator = BOOLEAN.exec(query);
  if (operator) return `the query may not use ${operator[0]}: give words and qualifiers such as label:, author:, no:assignee, created:>2026-01-01, which all must match`;
  return undefined;
}

export function searchIssuesTool(run: GitHubRun): Tool {
  return defineTool({
    name: "search_issues",
    readOnly: true,
    description: [
      "Search or list the issues (and, with type, pull requests) of one of this run's repositories, most recently updated first.",
      "query takes GitHub's search words and qualifiers (label:bug, author:octocat, no:assignee, no:label, created:>2026-01-01, in:title); the repository, type, state and labels are set by the other inputs.",
    ].join(" "),
    input: z.object({
      query: z.string().max(256).optional().describe("Words and qualifiers to search for; omit to list."),
      state: z.enum(["open", "closed", "all"]).optional().describe("open (default), closed or all."),
      labels: z.array(z.string().min(1).max(50).regex(/^[^"]+$/, { error: "must not contain double quotes" })).optional().describe("Labels the issues must all have."),
      type: z.enum(["issue", "pr", "all"]).optional().describe("issue (default), pr, or all."),
      repository: READ_REPOSITORY_INPUT,
      limit: z.number().int().min(1).max(100).optional().describe("Most results to return (default 30, at most 100)."),
    }),
    async execute({ query = "", state = "open", labels = [], type = "issue", repository, limit = 30 }) {
      const target = readingTarget(run, repository);
      const problem = queryProblem(query);
      if (problem) throw new ToolError(problem);
      const name = fullName(target.repository);
      const q = [
        `repo:${name}`,
        ...(type === "all" ? [] : [`is:${type}`]),
        ...(state === "all" ? [] : [`state:${state}`]),
        ...labels.map((label) => `label:"${label}"`),
        run.redact(query.trim()),
      ]
        .filter(Boolean)
        .join(" ");
      const { data } = await target.octokit.rest.search.issuesAndPullRequests({ q, sort: "updated", order: "desc", per_page: limit });
      const found = data.items.slice(0, limit);
      const head = `${data.total_count} found in ${name} for \`${q}\`${data.total_count > found.length ? ` (showing ${found.length})` : ""}${data.incomplete_results ? "; GitHub's results may be incomplete" : ""}.`;
      if (found.length === 0) return head;
      return `${head} Read one with read_issue.\n${untrustedFrame(`issues of ${name}`, found.map(issueLine).join("\n"))}`;
    },
  });
}
