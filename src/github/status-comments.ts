// One live status comment per pull request and routine: created when a run is admitted, edited
// as it starts and takes its steps (at most one step edit per `progressEveryMs`, for GitHub's rate
// limits), and finished with the outcome, a summary line, cost, duration and a link to the run.
// The next run on the pull request edits the same comment. States are recorded in the store's
// outbox (see status-comment-outbox.ts), which publishes the newest; nothing here waits for GitHub.
import { concurrencyKey, type RunRecord, type RunStore, type TranscriptEvent } from "../runs/store.js";
import type { RunObserver } from "../runs/run-observer.js";
import { keepsStatusComment } from "../run-request.js";
import { publishes } from "../session/github-tools.js";
import type { Redactor } from "../session/redact.js";
import { nextState, statusBody, statusMarker, viewOf, type RunView, type StatusState } from "./status-comment-text.js";

export interface StatusCommentOptions {
  runUrl: (runId: string) => string;
  /** Every text passes it before it is recorded. */
  redact?: Redactor;
  /** Told after every recorded state, so it is sent without waiting for the next look. */
  onRecorded?: () => void;
  /** Least time between two step edits of one run; the default 15 s keeps a busy installation well inside GitHub's limits. */
  progressEveryMs?: number;
  clock?: () => Date;
}

/** Compare-and-set attempts before a state is given up (another process kept recording first). */
const MAX_TRIES = 10;

/** Whether a run's transcript shows a publishing call that went through (a review, a comment, a push, …). */
export function postedAnything(events: TranscriptEvent[]): boolean {
  return events.some((event) => {
    const result = event.data as { name?: unknown; isError?: unknown; published?: unknown };
    // A review whose findings were all left out (repeats, rejected on verification) posted nothing.
    return event.kind === "tool_result" && result.isError !== true && result.published !== false && publishes(String(result.name));
  });
}

/** How many of a pull request's changed files the run read, from its last coverage record. */
export function reviewedFiles(events: TranscriptEvent[]): { reviewed: number; total: number } | undefined {
  const last = [...events].reverse().find((event) => event.kind === "review_coverage");
  const data = last?.data as { reviewed?: unknown; total?: unknown } | undefined;
  return data && typeof data.reviewed === "number" && typeof data.total === "number" ? { reviewed: data.reviewed, total: data.total } : undefined;
}

export class StatusCommentPublisher implements RunObserver {
  /** Runs going in this process, with the time of their last step edit. */
  readonly #running = new Map<string, { run: RunRecord; editedAt: number }>();
  /** Records in order per comment, so this process does not race itself. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(
    private readonly store: RunStore,
    private readonly options: StatusCommentOptions,
  ) {}

  async admitted(run: RunRecord): Promise<void> {
    // A run not started (a cap, the kill switch) is told by its check run and the command's reply.
    if (run.status === "rejected") return;
    await this.#record(run, viewOf(run, this.options.runUrl(run.id)));
  }

  async started(run: RunRecord): Promise<void> {
    if (!keepsStatusComment(run)) return;
    this.#running.set(run.id, { run, editedAt: this.#now() });
    await this.#record(run, viewOf(run, this.options.runUrl(run.id)));
  }

  async requeued(run: RunRecord): Promise<void> {
    this.#running.delete(run.id);
    await this.#record(run, viewOf(run, this.options.runUrl(run.id)));
  }

  async finished(run: RunRecord): Promise<void> {
    this.#running.delete(run.id);
    if (!keepsStatusComment(run)) return;
    const events = run.startedAt !== undefined ? await this.store.listEvents(run.id) : [];
    const files = reviewedFiles(events);
    await this.#record(run, viewOf(run, this.options.runUrl(run.id), { posted: postedAnything(events), ...(files ? { files } : {}) }));
  }

  /** A transcript event of a running run: each model turn is a step, shown at most once per interval. */
  async event(runId: string, event: TranscriptEvent): Promise<void> {
    if (event.kind !== "model_response") return;
    const going = this.#running.get(runId);
    const step = (event.data as { turn?: unknown }).turn;
    if (!going || typeof step !== "number") return;
    const now = this.#now();
    if (now - going.editedAt < (this.options.progressEveryMs ?? 15_000)) return;
    going.editedAt = now;
    await this.#record(going.run, viewOf(going.run, this.options.runUrl(runId), { step }));
  }

  #record(run: RunRecord, view: RunView): Promise<void> {
    const key = concurrencyKey(run);
    if (!key || !keepsStatusComment(run)) return Promise.resolve();
    const recorded = (this.#chains.get(key) ?? Promise.resolve()).then(() => this.#put(run, key, view));
    const chain = recorded.catch(() => undefined);
    this.#chains.set(key, chain);
    void chain.then(() => {
      if (this.#chains.get(key) === chain) this.#chains.delete(key);
    });
    return recorded;
  }

  async #put(run: RunRecord, key: string, view: RunView): Promise<void> {
    const redact: Redactor = this.options.redact ?? ((text) => text);
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const current = await this.store.statusComment(key);
      const state = current ? (JSON.parse(current.state) as StatusState) : {};
      const next = nextState(state, view);
      if (next === state) return;
      const body = statusBody(next, statusMarker(key));
      if (body === undefined) return;
      const entry = { key, installationId: run.installationId, repository: run.repository, issueNumber: run.context.pullRequest!.number, state: JSON.stringify(next), body: redact(body) };
      if (await this.store.recordStatusComment(entry, current?.version ?? 0)) {
        this.options.onRecorded?.();
        return;
      }
    }
    throw new Error(`the status comment ${key} kept changing under ${MAX_TRIES} attempts to record run ${run.id}'s state`);
  }

  #now(): number {
    return (this.options.clock?.() ?? new Date()).getTime();
  }
}
