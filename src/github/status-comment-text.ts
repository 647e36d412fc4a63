// What a routine's status comment on a pull request says, and how it changes as runs come and go.
// The comment follows the newest run that is queued or running, and keeps the newest finished
// run's result: a late word from an older run never overwrites a newer one's, and a run that never
// started (superseded in the queue) never hides a real result.
import { createHash } from "node:crypto";
import { formatDuration } from "../config/duration.js";
import type { RunRecord } from "../runs/store.js";
import { costWords } from "../session/pricing.js";
import { conclusionOf } from "./run-checks.js";

/** One run as the comment shows it. */
export interface RunView {
  runId: string;
  routine: string;
  /** When the run was recorded (ms): orders the runs of one comment. */
  createdAt: number;
  phase: "queued" | "running" | "finished";
  attempt: number;
  /** Model turns taken so far, while running. */
  step?: number;
  /** The pull request's head the run works on, shortened. */
  commit?: string;
  /** Who or what started the run, in words. */
  startedBy: string;
  url: string;
  /** Finished runs: whether the session started at all (a run superseded in the queue never did). */
  started?: boolean;
  /** Finished runs: the check run's conclusion and its title in words. */
  conclusion?: string;
  title?: string;
  /** Finished runs: the first line of the run's summary, or of why it stopped. */
  summary?: string;
  /** Finished runs: whether the run posted anything (a review, a comment, …). */
  posted?: boolean;
  /** Finished runs on a pull request: how many of its changed files the run read, of how many. */
  files?: { reviewed: number; total: number };
  /** Finished runs that completed: the routine reported success. */
  succeeded?: boolean;
  /** Finished runs whose session ended by itself (completed), as opposed to errors, cancels, interruptions. */
  completed?: boolean;
  cost?: string;
  durationMs?: number;
}

/** What the comment holds: the newest live run and the newest result. */
export interface StatusState {
  live?: RunView;
  last?: RunView;
}

/** Longest summary line kept: the comment is a status, the run page has the rest. */
const SUMMARY_CHARS = 300;

/**
 * The first non-empty line of a text, shortened, with HTML comment openers defused: the model
 * writes summaries, and a hidden marker of its making must not name another comment.
 */
export function oneLine(text: string | undefined): string | undefined {
  const line = text?.split("\n").map((part) => part.trim()).find(Boolean);
  if (!line) return undefined;
  const short = line.length > SUMMARY_CHARS ? `${line.slice(0, SUMMARY_CHARS - 1)}…` : line;
  return short.replaceAll("<!--", "&lt;!--");
}

function startedByOf(run: RunRecord): string {
  const { trigger } = run;
  if (trigger.kind === "command") return `\`/routine run\` from @${trigger.author}`;
  if (trigger.kind === "github") return `the pull request's \`${trigger.action}\``;
  if (trigger.kind === "manual") return `${trigger.user} in the dashboard`;
  return `a ${trigger.kind} trigger`;
}

/** The run as the comment shows it now; `posted` is asked for finished runs only. */
export function viewOf(run: RunRecord, url: string, more: { step?: number; posted?: boolean; files?: { reviewed: number; total: number } } = {}): RunView {
  const common = {
    runId: run.id,
    routine: run.routine,
    createdAt: run.createdAt.getTime(),
    attempt: run.attempt ?? 1,
    ...(run.context.pullRequest ? { commit: run.context.pullRequest.headSha.slice(0, 7) } : {}),
    startedBy: startedByOf(run),
    url,
  };
  if (run.status === "queued") return { ...common, phase: "queued" };
  if (run.status === "running") return { ...common, phase: "running", ...(more.step ? { step: more.step } : {}) };
  const { conclusion, title } = conclusionOf(run);
  const started = run.startedAt !== undefined;
  const summary = oneLine(run.summary) ?? oneLine(run.reason);
  return {
    ...common,
    phase: "finished",
    started,
    conclusion,
    title,
    ...(summary ? { summary } : {}),
    posted: more.posted ?? false,
    ...(more.files ? { files: more.files } : {}),
    succeeded: run.status === "completed" && run.outcome === "succeeded",
    completed: run.status === "completed",
    cost: costWords(run, { short: true }),
    ...(run.finishedAt ? { durationMs: run.finishedAt.getTime() - (run.startedAt ?? run.createdAt).getTime() } : {}),
  };
}

const newer = (a: RunView, b: RunView) => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.runId > b.runId);
/** How far one run has gone: an attempt queued, then running, step by step; a later attempt after all of it. */
const progress = (view: RunView) => view.attempt * 1_000_000 + (view.phase === "running" ? 1 + (view.step ?? 0) : 0);

/** The state after news of one run; the same object when the news changes nothing. */
export function nextState(state: StatusState, view: RunView): StatusState {
  const { live, last } = state;
  if (view.phase === "finished") {
    const next: StatusState = { ...state };
    if (live?.runId === view.runId) delete next.live;
    // A run that never started takes the result's place only when there is nothing else to show.
    const shows = view.started ? !last || !newer(last, view) : !last && !next.live;
    if (shows) next.last = view;
    return next.live === live && next.last === last ? state : next;
  }
  // Late news of a run that already finished, or of one older than the newest result.
  if (last && (last.runId === view.runId || newer(last, view))) return state;
  if (live) {
    // An older run still going while a newer one waits: the comment follows the newer one.
    if (live.runId !== view.runId && newer(live, view)) return state;
    if (live.runId === view.runId && progress(view) <= progress(live)) return state;
  }
  return { ...state, live: view };
}

const ICONS: Record<string, string> = { success: "✅", failure: "❌", neutral: "⚪", cancelled: "⏹️", action_required: "⚠️" };

function headline(view: RunView): string {
  const name = `**\`${view.routine}\`**`;
  const on = view.commit ? ` on \`${view.commit}\`` : "";
  if (view.phase === "queued") return `⏳ ${name} is queued${view.attempt > 1 ? ` again (attempt ${view.attempt})` : ""}${on}.`;
  if (view.phase === "running") return `🔄 ${name} is running${on}${view.step ? `: step ${view.step}` : ""}.`;
  return `${ICONS[view.conclusion ?? ""] ?? "⚪"} ${name}: ${view.title}${on}.`;
}

/** " in 14 files", or " in 14 of 16 files" when the run did not read them all. */
function filesWords(files: RunView["files"]): string {
  if (!files) return "";
  const of = files.reviewed < files.total ? ` of ${files.total}` : "";
  return ` in ${files.reviewed}${of} file${(of ? files.total : files.reviewed) === 1 ? "" : "s"}`;
}

/** What a finished run left: its summary, and in words when it posted nothing. */
function resultLine(view: RunView): string {
  if (view.posted) return view.summary ?? "Posted its results on this pull request.";
  if (view.succeeded) return `No problems found${filesWords(view.files)}: the run posted no review or comment.${view.summary ? ` ${view.summary}` : ""}`;
  if (view.completed) return `Finished without posting anything: ${view.summary ?? "the run gave no summary"}`;
  return [view.summary, "Nothing was posted."].filter(Boolean).join(" ");
}

const runLink = (view: RunView) => `[run \`${view.runId}\`](${view.url})`;

function footer(view: RunView): string {
  // Cost and time of a session that ran; a run cancelled in the queue has neither.
  const ran = view.phase === "finished" && view.started === true;
  const parts = [ran ? `cost ${view.cost}` : undefined, ran && view.durationMs !== undefined ? `took ${formatDuration(view.durationMs)}` : undefined, runLink(view), `started by ${view.startedBy}`];
  return `<sub>${parts.filter(Boolean).join(" · ")}</sub>`;
}

/** The hidden line that names the comment on GitHub, so the next run finds and edits it. */
export function statusMarker(key: string): string {
  return `<!-- routines:status:${createHash("sha256").update(key).digest("hex").slice(0, 24)} -->`;
}

/** The comment's text for a state; undefined when there is nothing to show yet. */
export function statusBody(state: StatusState, marker: string): string | undefined {
  const { live, last } = state;
  const lines: string[] = [];
  if (live) {
    lines.push(headline(live), "", footer(live));
    if (last) lines.push("", `Last result: ${headline(last)} ${resultLine(last)} (${runLink(last)})`);
  } else if (last) {
    lines.push(headline(last), "", resultLine(last), "", footer(last));
  } else {
    return undefined;
  }
  lines.push(marker);
  return lines.join("\n");
}
