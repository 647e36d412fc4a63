// How often each routine's review findings were acted on: the share of its findings on merged
// pull requests that were addressed before the merge, with the counts it comes from and the
// reactions people gave them (github/finding-signals.ts records them).
import type { RoutineFindingStats } from "../../../runs/store.js";
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import { page, repoPath } from "./layout.js";

export const FINDINGS_PATH = "/dashboard/findings";

/** The metric's definition, as every page that shows it links to it. */
export const findingsDefinition = html`<section class="card" id="definition" aria-labelledby="definition-heading">
  <h2 id="definition-heading">How “addressed before merge” is counted</h2>
  <p>A routine's <strong>findings</strong> are the inline review comments it posted on pull requests. Only findings on pull
  requests that were later <strong>merged</strong> are counted. A finding is <strong>addressed before merge</strong> when, before the
  merge, its review thread was resolved, or a later commit of the pull request changed the lines it was about (replaced or
  removed one of them, put lines in between them, or deleted the file).</p>
  <p>The share is addressed findings over findings whose outcome is known. A finding is <strong>unknown</strong> when it is not known
  to be addressed and a signal could not be read: GitHub did not answer, or the branch was force-pushed past the commit the
  finding was posted on. Unknown findings are shown apart and left out of the share. A finding on removed lines (the diff's left
  side) counts only by its thread.</p>
  <p>👍 and 👎 are the reactions on the finding's comment, the app's own left out. Signals are read on the pull request's later
  events: each push, each thread resolved or unresolved, and the merge, when its threads and reactions are read once more.</p>
</section>`;

/** "1 of 2 addressed (50 %)", with the unknown apart, and the reactions. */
export function findingsSummary(stats: RoutineFindingStats): Html {
  const known = stats.findings - stats.unknown;
  const share = known > 0 ? `${Math.round((stats.addressed / known) * 100)} %` : "no known outcome yet";
  return html`<span class="findings-share"><strong>${stats.addressed} of ${known} addressed (${share})</strong>${
    stats.unknown > 0 ? html`, ${stats.unknown} unknown` : ""
  } · <span aria-label="${stats.thumbsUp} thumbs up">${stats.thumbsUp} 👍</span> · <span aria-label="${stats.thumbsDown} thumbs down">${stats.thumbsDown} 👎</span> · on ${stats.pullRequests} merged pull request${stats.pullRequests === 1 ? "" : "s"}</span>`;
}

/** The line on a routine's card in its repository's page. */
export function routineFindingsLine(stats: RoutineFindingStats | undefined): Html {
  return html`<p>Findings addressed before merge: ${stats ? findingsSummary(stats) : html`<span class="muted">no findings on merged pull requests yet</span>`} <a href="${FINDINGS_PATH}#definition">(how it is counted)</a></p>`;
}

export function findingsPage(session: DashboardSession, stats: RoutineFindingStats[]): Html {
  const table =
    stats.length === 0
      ? html`<p>No routine has findings on merged pull requests in the repositories you can access yet.</p>`
      : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Repository</th><th scope="col">Routine</th><th scope="col">Addressed before merge</th><th scope="col">Findings</th><th scope="col">Unknown</th><th scope="col">👍</th><th scope="col">👎</th><th scope="col">Merged pull requests</th></tr></thead>
  <tbody>${stats.map((row) => {
    const known = row.findings - row.unknown;
    return html`<tr>
    <td><a href="${repoPath(row.repository)}">${row.repository.owner}/${row.repository.repo}</a></td>
    <td><a href="${repoPath(row.repository)}#routine-${row.routine}">${row.routine}</a></td>
    <td>${row.addressed} of ${known} addressed (${known > 0 ? `${Math.round((row.addressed / known) * 100)} %` : "—"})</td>
    <td>${row.findings}</td><td>${row.unknown}</td><td>${row.thumbsUp}</td><td>${row.thumbsDown}</td><td>${row.pullRequests}</td>
  </tr>`;
  })}</tbody></table></div>`;
  return page({ title: "Findings addressed before merge", session, current: "findings" }, html`${table}${findingsDefinition}`);
}
