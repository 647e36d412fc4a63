// A repository's routines as the default branch defines them: triggers in words, next scheduled
// times, the config's problems with their lines, "Run now", and the tokens of api triggers.
import type { RepositoryRoutines } from "../../../config/routines-cache.js";
import { describeTrigger } from "../../../config/describe.js";
import { formatProblem } from "../../../config/problem.js";
import { formatInZone } from "../../../config/time.js";
import { nextRuns, timezoneOf } from "../../../config/schedule.js";
import type { Routine } from "../../../config/schema.js";
import type { ApiToken } from "../../../runs/api-tokens.js";
import type { RepositoryId } from "../../../run-request.js";
import type { RoutineFindingStats, RunRecord } from "../../../runs/store.js";
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import { routineFindingsLine } from "./findings.js";
import { csrfField, formatTime, page, repoPath } from "./layout.js";
import { outcomeBadge, statusBadge } from "./run-words.js";

export interface RepositoryView {
  session: DashboardSession;
  repository: RepositoryId;
  canWrite: boolean;
  config: RepositoryRoutines | { error: string };
  tokens: ApiToken[];
  lastRuns: Map<string, RunRecord>;
  /** Each routine's findings on merged pull requests (see pages/findings.ts). */
  findings?: Map<string, RoutineFindingStats>;
  now: Date;
}

const CONFIG_FILE = ".claude/routines.yml";

function tokensSection(view: RepositoryView, name: string): Html {
  const tokens = view.tokens.filter((token) => token.routine === name);
  const base = `${repoPath(view.repository)}/routines/${encodeURIComponent(name)}`;
  return html`<h4>API tokens</h4>
${
  tokens.length === 0
    ? html`<p class="muted">No tokens yet.</p>`
    : html`<div class="table-wrap"><table>
  <thead><tr><th scope="col">Trigger id</th><th scope="col">Created</th><th scope="col">State</th>${view.canWrite ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ""}</tr></thead>
  <tbody>${tokens.map(
    (token) => html`<tr><td><code>${token.triggerId}</code></td><td>${formatTime(token.createdAt)}</td><td>${token.revokedAt ? html`revoked ${formatTime(token.revokedAt)}` : "active"}</td>
    ${
      view.canWrite
        ? html`<td>${
            token.revokedAt
              ? ""
              : html`<form class="inline" method="post" action="/dashboard/tokens/${token.triggerId}/revoke" data-confirm="Revoke ${token.triggerId}? Callers using it get 401 from now on.">
        ${csrfField(view.session)}<button type="submit" class="danger" aria-label="Revoke ${token.triggerId}">Revoke</button></form>`
          }</td>`
        : ""
    }</tr>`,
  )}</tbody></table></div>`
}
${
  view.canWrite
    ? html`<form method="post" action="${base}/tokens">${csrfField(view.session)}<button type="submit">Create a token</button></form>`
    : ""
}`;
}

/** Words with `code` spans, as the trigger descriptions write commands. */
const withCode = (text: string): Html => html`${text.split("`").map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}`;

function scheduleTimes(routine: Routine, now: Date): Html {
  const times = (routine.triggers ?? []).flatMap((trigger) => (trigger.schedule ? nextRuns(trigger.schedule, 1, now).map((at) => ({ at, zone: timezoneOf(trigger.schedule!) })) : []));
  if (times.length === 0) return html``;
  times.sort((a, b) => a.at.getTime() - b.at.getTime());
  return html`<p>Next scheduled run: <strong>${formatInZone(times[0]!.at, times[0]!.zone)}</strong></p>`;
}

function routineCard(view: RepositoryView, name: string, routine: Routine): Html {
  const triggers = routine.triggers ?? [];
  const hasApi = triggers.some((trigger) => "api" in trigger);
  const last = view.lastRuns.get(name);
  const runs = `/dashboard/runs?repository=${encodeURIComponent(`${view.repository.owner}/${view.repository.repo}`)}&routine=${encodeURIComponent(name)}`;
  const base = `${repoPath(view.repository)}/routines/${encodeURIComponent(name)}`;
  return html`<section class="card" id="routine-${name}" aria-labelledby="routine-heading-${name}">
  <h3 id="routine-heading-${name}">${name}</h3>
  ${
    triggers.length === 0
      ? html`<p class="muted">No triggers: it runs only when started by hand.</p>`
      : html`<ul>${triggers.map((trigger) => html`<li>${withCode(describeTrigger(trigger, name))}</li>`)}</ul>`
  }
  ${scheduleTimes(routine, view.now)}
  ${view.findings ? routineFindingsLine(view.findings.get(name)) : ""}
  <p>${last ? html`Last run: <a href="/dashboard/runs/${last.id}">${formatTime(last.createdAt)}</a> ${statusBadge(last)} ${outcomeBadge(last)} · ` : ""}<a href="${runs}">All runs of ${name}</a></p>
  ${
    view.canWrite
      ? html`<form method="post" action="${base}/run">
    ${csrfField(view.session)}
    <label for="text-${name}">Extra instructions for this run (optional)</label>
    <textarea id="text-${name}" name="text" maxlength="10000"></textarea>
    <p><button type="submit" class="primary">Run ${name} now</button></p>
  </form>`
      : html`<p class="muted">You have read access: starting runs needs write permission on this repository.</p>`
  }
  ${hasApi ? tokensSection(view, name) : ""}
</section>`;
}

export function repositoryPage(view: RepositoryView): Html {
  const { config } = view;
  const title = `${view.repository.owner}/${view.repository.repo}`;
  let body: Html;
  if ("error" in config) {
    body = html`<p class="notice bad">Could not read ${CONFIG_FILE} from GitHub: ${config.error}</p>`;
  } else if (!config.found) {
    body = html`<p>No <code>${CONFIG_FILE}</code> on the default branch. Add one to define routines; <code>routines validate</code> checks it before you commit.</p>`;
  } else {
    const names = Object.keys(config.routines);
    body = html`${
      config.problems.length > 0
        ? html`<section class="notice bad" aria-labelledby="problems-heading"><h2 id="problems-heading">Problems in ${CONFIG_FILE}</h2>
  <p>Routines with errors are left out until they are fixed.</p>
  <ul class="problems">${config.problems.map((problem) => html`<li>${formatProblem(CONFIG_FILE, problem)}</li>`)}</ul></section>`
        : ""
    }
<p class="muted">From <code>${CONFIG_FILE}</code> on the default branch (blob ${config.sha.slice(0, 7)}).</p>
${names.length === 0 ? html`<p>No valid routines.</p>` : names.map((name) => routineCard(view, name, config.routines[name]!))}`;
  }
  return page({ title, session: view.session, current: "home" }, body);
}
