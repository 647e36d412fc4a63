// Runs the user can see, newest first, filtered by repository, routine, trigger kind, status and
// outcome, a page at a time.
import { RUN_STATUSES as STATUSES, type RunRecord } from "../../../runs/store.js";
import { costWords } from "../../../session/pricing.js";
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import { formatDuration, formatTime, page } from "./layout.js";
import { outcomeBadge, statusBadge, triggerWords } from "./run-words.js";

export const TRIGGER_KINDS = ["github", "command", "schedule", "api", "manual"] as const;
export { STATUSES };
export const OUTCOMES = ["succeeded", "failed", "unknown"] as const;

export interface RunFilters {
  repository?: string;
  routine?: string;
  trigger?: string;
  status?: string;
  outcome?: string;
}

export interface RunsView {
  session: DashboardSession;
  filters: RunFilters;
  repositories: string[];
  runs: RunRecord[];
  /** The id to continue from for older runs, when there are more. */
  next?: string;
}

function select(name: keyof RunFilters, label: string, options: readonly string[], value: string | undefined): Html {
  return html`<div><label for="filter-${name}">${label}</label>
  <select id="filter-${name}" name="${name}"><option value="">any</option>${options.map(
    (option) => html`<option value="${option}"${option === value ? html` selected` : ""}>${option}</option>`,
  )}</select></div>`;
}

export function filterQuery(filters: RunFilters, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) if (value) query.set(key, value);
  const text = query.toString();
  return text ? `?${text}` : "";
}

export function runsPage({ session, filters, repositories, runs, next }: RunsView): Html {
  const filtered = Object.values(filters).some(Boolean);
  return page(
    { title: "Runs", session, current: "runs" },
    html`<form class="filters" method="get" action="/dashboard/runs" aria-label="Filter runs">
  ${select("repository", "Repository", repositories, filters.repository)}
  <div><label for="filter-routine">Routine</label><input type="text" id="filter-routine" name="routine" value="${filters.routine ?? ""}" size="14"></div>
  ${select("trigger", "Trigger", TRIGGER_KINDS, filters.trigger)}
  ${select("status", "Status", STATUSES, filters.status)}
  ${select("outcome", "Outcome", OUTCOMES, filters.outcome)}
  <div><button type="submit">Filter</button>${filtered ? html` <a href="/dashboard/runs">Clear</a>` : ""}</div>
</form>
${
  runs.length === 0
    ? html`<p>No runs${filtered ? " match these filters" : " yet"}.</p>`
    : html`<div class="table-wrap"><table>
  <caption class="visually-hidden">Runs, newest first</caption>
  <thead><tr><th scope="col">Run</th><th scope="col">Repository</th><th scope="col" class="hide-narrow">Trigger</th><th scope="col">Status</th><th scope="col">Outcome</th><th scope="col" class="hide-narrow">Created</th><th scope="col" class="hide-narrow">Took</th><th scope="col" class="hide-narrow">Cost</th></tr></thead>
  <tbody>${runs.map(
    (run) => html`<tr>
    <td><a href="/dashboard/runs/${run.id}">${run.routine}</a><div class="muted"><small>${run.id}</small></div></td>
    <td>${run.repository.owner}/${run.repository.repo}</td>
    <td class="hide-narrow">${triggerWords(run)}</td>
    <td>${statusBadge(run)}</td>
    <td>${outcomeBadge(run)}</td>
    <td class="hide-narrow">${formatTime(run.createdAt)}</td>
    <td class="hide-narrow">${run.startedAt && run.finishedAt ? formatDuration(run.finishedAt.getTime() - run.startedAt.getTime()) : "—"}</td>
    <td class="hide-narrow">${run.usage || run.costUsd !== undefined ? costWords(run, { short: true }) : "—"}</td>
  </tr>`,
  )}</tbody></table></div>`
}
<nav class="paging" aria-label="Pages">
  ${filters && (runs.length > 0 || next) ? html`<a href="/dashboard/runs${filterQuery(filters)}">Newest</a>` : ""}
  ${next ? html`<a href="/dashboard/runs${filterQuery(filters, { before: next })}" rel="next">Older runs</a>` : ""}
</nav>`,
  );
}
