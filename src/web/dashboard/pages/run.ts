// One run: trigger, infrastructure status and outcome side by side, timing, tokens, links, and
// the transcript, which grows live while the run goes (see ../live.ts and the page script).
import type { RunRecord, TranscriptEvent } from "../../../runs/store.js";
import { costWords } from "../../../session/pricing.js";
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import { csrfField, formatDuration, formatTime, page, repoPath } from "./layout.js";
import { transcriptItem, postedLinks } from "./transcript.js";
import { isActive, outcomeBadge, statusBadge, triggerWords } from "./run-words.js";

export interface RunView {
  run: RunRecord;
  session: DashboardSession;
  /** May cancel: write permission on the run's repository. */
  canWrite: boolean;
  /** GitHub's web address, for links to pull requests. */
  githubUrl: string;
}

/** The part of the page that changes with the run's status; replaced whole by live updates. */
export function runState({ run, session, canWrite, githubUrl }: RunView, events: TranscriptEvent[]): Html {
  const { owner, repo } = run.repository;
  const pr = run.context.pullRequest;
  const usage = run.usage;
  const ended = run.finishedAt ?? new Date();
  const links = postedLinks(events);
  return html`<section id="run-state" aria-live="polite" aria-labelledby="state-heading">
  <h2 id="state-heading" class="visually-hidden">State</h2>
  <div class="facts">
    <div><dl>
      <dt>Trigger</dt><dd>${triggerWords(run)}</dd>
      ${pr ? html`<dt>Pull request</dt><dd><a href="${githubUrl}/${owner}/${repo}/pull/${pr.number}">#${pr.number} ${pr.title}</a></dd>` : ""}
      ${run.context.release ? html`<dt>Release</dt><dd>${run.context.release.tag}</dd>` : ""}
      ${run.context.issue ? html`<dt>Issue</dt><dd><a href="${githubUrl}/${owner}/${repo}/issues/${run.context.issue.number}">#${run.context.issue.number} ${run.context.issue.title}</a></dd>` : ""}
      ${run.context.workflowRun ? html`<dt>Workflow run</dt><dd>${run.context.workflowRun.workflow} (${run.context.workflowRun.conclusion ?? run.context.workflowRun.status}) at ${run.context.workflowRun.headSha.slice(0, 7)}</dd>` : ""}
      ${run.context.deployment ? html`<dt>Deployment</dt><dd>${run.context.deployment.environment} (${run.context.deployment.state}) at ${run.context.deployment.sha.slice(0, 7)}</dd>` : ""}
      ${run.context.extraInstructions ? html`<dt>Text</dt><dd>${run.context.extraInstructions}</dd>` : ""}
    </dl></div>
    <div><dl>
      <dt>Status (did it run)</dt><dd>${statusBadge(run)}</dd>
      ${run.reason ? html`<dt>Reason</dt><dd>${run.reason}</dd>` : ""}
    </dl></div>
    <div><dl>
      <dt>Outcome (did the task succeed)</dt><dd>${outcomeBadge(run)}</dd>
      ${run.summary ? html`<dt>Summary</dt><dd>${run.summary}</dd>` : ""}
    </dl></div>
    <div><dl>
      <dt>Created</dt><dd>${formatTime(run.createdAt)}</dd>
      ${run.startedAt ? html`<dt>Started</dt><dd>${formatTime(run.startedAt)}</dd><dt>${run.finishedAt ? "Took" : "Running for"}</dt><dd>${formatDuration(ended.getTime() - run.startedAt.getTime())}</dd>` : ""}
      ${run.finishedAt ? html`<dt>Finished</dt><dd>${formatTime(run.finishedAt)}</dd>` : ""}
    </dl></div>
    <div><dl>
      <dt>Tokens</dt>
      <dd>${usage ? html`${usage.inputTokens} input · ${usage.cacheReadTokens} cache read · ${usage.cacheWriteTokens} cache write · ${usage.outputTokens} output` : "—"}</dd>
      <dt>Cost</dt><dd>${runCostWords(run)}</dd>
      ${links.length > 0 ? html`<dt>Posted</dt>${links.map((link) => html`<dd><a href="${link}">${link.replace(/^https?:\/\/[^/]+\//, "")}</a></dd>`)}` : ""}
    </dl></div>
  </div>
  ${
    isActive(run) && canWrite
      ? html`<form method="post" action="/dashboard/runs/${run.id}/cancel" data-confirm="Cancel this run?">
    ${csrfField(session)}<p><button type="submit" class="danger">Cancel run</button></p></form>`
      : ""
  }
</section>`;
}

/** The run's cost, or why there is none; a dash before the run has called the model. */
export const runCostWords = (run: RunRecord): string => (run.usage || run.costUsd !== undefined ? costWords(run) : "—");

export function runPage(view: RunView, events: TranscriptEvent[]): Html {
  const { run } = view;
  const active = isActive(run);
  const lastSeq = events.at(-1)?.seq ?? 0;
  return page(
    { title: `${run.routine} · ${run.id}`, session: view.session, current: "runs" },
    html`<p class="muted">Routine <a href="${repoPath(run.repository)}#routine-${run.routine}">${run.routine}</a> in
  <a href="${repoPath(run.repository)}">${run.repository.owner}/${run.repository.repo}</a></p>
${runState(view, events)}
<h2 id="transcript-heading">Transcript</h2>
${active ? html`<p id="live-note" class="muted">This run is going on: new steps appear below as they happen.</p>` : ""}
<ol id="transcript" class="transcript" aria-labelledby="transcript-heading"${active ? html` data-live="/dashboard/runs/${run.id}/events" data-after="${lastSeq}"` : ""}>
${events.length === 0 ? html`<li id="transcript-empty" class="meta">${active ? "Nothing recorded yet." : "No transcript was recorded."}</li>` : events.map(transcriptItem)}
</ol>`,
  );
}
