// How issues read by the tools are shown to the model. Titles, bodies, labels and comments are
// written by anyone who can open an issue, so they reach the model inside an untrusted frame.
import type { components } from "@octokit/openapi-types";

type Issue = components["schemas"]["issue"] | components["schemas"]["issue-search-result-item"];

const names = (items: ReadonlyArray<string | { name?: string }> | undefined) =>
  (items ?? []).map((item) => (typeof item === "string" ? item : (item.name ?? ""))).filter(Boolean);

/** One line per issue: number, kind, state, title, labels, assignees, author, comments, last update. */
export function issueLine(issue: Issue): string {
  const kind = issue.pull_request ? "pull request" : "issue";
  const state = issue.state === "closed" && issue.state_reason ? `closed: ${issue.state_reason}` : issue.state;
  const labels = names(issue.labels);
  const assignees = (issue.assignees ?? []).map((user) => user.login);
  return [
    `#${issue.number} (${kind}, ${state}) ${issue.title}`,
    ...(labels.length > 0 ? [`labels: ${labels.join(", ")}`] : []),
    ...(assignees.length > 0 ? [`assignees: ${assignees.join(", ")}`] : []),
    `by ${issue.user?.login ?? "unknown"}`,
    `${issue.comments} comment${issue.comments === 1 ? "" : "s"}`,
    `updated ${issue.updated_at}`,
  ].join(" · ");
}
