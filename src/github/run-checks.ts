// A check run `routines/<routine>` on the commit of every run tied to one (a pull request's head,
// a workflow run's or a deployment's commit; issue, schedule and API runs have none): queued when admitted, in progress when its session starts, completed at the end with a
// conclusion that tells both statuses truthfully. Runs not started (a cap, the kill switch) share
// one check per commit and routine. The states are recorded in the store's outbox, which
// publishes them in order (see check-outbox.ts); nothing here waits for GitHub.
import type { RunObserver } from "../runs/run-observer.js";
import { commitOf } from "../run-request.js";
import type { CheckEntry, CheckState, RunRecord, RunStore } from "../runs/store.js";
import { formatUsd } from "../session/pricing.js";

export const checkName = (routine: string) => `routines/${routine}`;

type Conclusion = "success" | "failure" | "neutral" | "cancelled" | "action_required";

/** A reason's first line: the rest (a failed script's output) belongs in the summary, not the title. */
const headline = (reason: string | undefined) => reason?.split("\n", 1)[0]?.trim() || undefined;

/**
 * The conclusion, and a title that says it in words, of a finished or rejected run. Only a
 * routine that reported success passes; a session that ended by itself without an outcome is
 * neutral. Everything that kept the routine from doing its job (errors, interruptions, limits,
 * caps, the kill switch) fails or asks for action, so a required check never passes a pull
 * request that nothing reviewed.
 */
export function conclusionOf(run: RunRecord): { conclusion: Conclusion; title: string } {
  const reason = headline(run.reason);
  switch (run.status) {
    case "completed": {
      if (run.outcome === "succeeded") return { conclusion: "success", title: "Succeeded" };
      if (run.outcome === "failed") return { conclusion: "failure", title: "The routine reported failure" };
      // A limit, a refusal or an overflowing context kept the routine from finishing its task.
      if (run.stopReason !== undefined && run.stopReason !== "end_turn") return { conclusion: "failure", title: stoppedTitle(reason ?? run.stopReason) };
      return { conclusion: "neutral", title: "Finished without reporting an outcome" };
    }
    case "errored":
      return { conclusion: "failure", title: `Errored: ${reason ?? "unknown reason"}` };
    case "interrupted":
      return { conclusion: "failure", title: `Interrupted: ${(reason ?? "the server stopped").replace(/^interrupted: /, "")}` };
    case "cancelled":
      return { conclusion: "cancelled", title: `Cancelled: ${reason ?? "cancelled"}` };
    case "rejected":
      return { conclusion: "action_required", title: `Not started: ${reason ?? "rejected"}` };
    default:
      throw new Error(`run ${run.id} is ${run.status}, not finished`);
  }
}

/** "Stopped at the budget of $5.00: …" rather than "Stopped: stopped at …". */
const stoppedTitle = (why: string) => (/^stopped /i.test(why) ? `S${why.slice(1)}` : `Stopped: ${why}`);

const count = (n: number) => n.toLocaleString("en-US");

function summaryOf(run: RunRecord): string {
  const parts = [run.summary ?? run.reason ?? ""];
  if (run.usage) {
    const { inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens } = run.usage;
    parts.push(
      [
        "| input | cache read | cache write | output | cost |",
        "| --- | --- | --- | --- | --- |",
        `| ${count(inputTokens)} | ${count(cacheReadTokens)} | ${count(cacheWriteTokens)} | ${count(outputTokens)} | ${run.costUsd === undefined ? "unknown" : formatUsd(run.costUsd)} |`,
      ].join("\n"),
    );
  }
  parts.push(`Run \`${run.id}\`, started by ${run.trigger.kind === "command" ? `a /routine command from ${run.trigger.author}` : `a ${run.trigger.kind} trigger`}.`);
  return parts.filter(Boolean).join("\n\n").slice(0, 60_000);
}

/** Above every queued and running version: a finished run's state is its last. */
const FINAL_VERSION = 1_000_000;

/**
 * A run's check state and its version: attempt n is queued at 2n-1 and running at 2n, and the
 * final state comes after all. The version comes from the run itself, so states recorded out of
 * order (a late "started" after "finished") still never go backwards.
 */
export function checkStateOf(run: RunRecord, detailsUrl: string): { version: number; state: CheckState } {
  const attempt = run.attempt ?? 1;
  const common = { external_id: run.id, details_url: detailsUrl };
  if (run.status === "queued") {
    const output = attempt > 1
      ? { title: "Queued again", summary: `Run \`${run.id}\` was interrupted by a stop of the server before it published anything, and waits to run again (attempt ${attempt}).` }
      : { title: "Queued", summary: `Run \`${run.id}\` is waiting for a worker.` };
    return { version: 2 * attempt - 1, state: { ...common, status: "queued", output } };
  }
  if (run.status === "running") {
    return {
      version: 2 * attempt,
      state: { ...common, status: "in_progress", started_at: (run.startedAt ?? new Date()).toISOString(), output: { title: "Running", summary: `Run \`${run.id}\` is in progress.` } },
    };
  }
  const { conclusion, title } = conclusionOf(run);
  return {
    version: FINAL_VERSION,
    state: { ...common, status: "completed", conclusion, completed_at: (run.finishedAt ?? new Date()).toISOString(), output: { title: title.slice(0, 200), summary: summaryOf(run) } },
  };
}

/** Records each run's check state in the outbox and wakes the publisher. */
export class CheckRunPublisher implements RunObserver {
  constructor(
    private readonly store: RunStore,
    private readonly runUrl: (runId: string) => string,
    /** Told after every recorded state, so it is sent without waiting for the next look. */
    private readonly onRecorded: () => void = () => undefined,
  ) {}

  async admitted(run: RunRecord): Promise<void> {
    if (run.status === "rejected") await this.#recordRejected(run);
    else await this.#record(run);
  }

  async started(run: RunRecord): Promise<void> {
    await this.#record(run);
  }

  async requeued(run: RunRecord): Promise<void> {
    await this.#record(run);
  }

  async finished(run: RunRecord): Promise<void> {
    await this.#record(run);
  }

  /** The run's own check, in the state the run is in now. */
  async #record(run: RunRecord): Promise<void> {
    const headSha = commitOf(run);
    if (!headSha) return;
    const { version, state } = checkStateOf(run, this.runUrl(run.id));
    await this.#put({ key: `run:${run.id}`, runId: run.id, headSha, priority: 0, version, state }, run);
  }

  /**
   * Runs not started share one check per commit and routine, updated with the latest: a burst
   * of capped runs costs one check run, not one each.
   */
  async #recordRejected(run: RunRecord): Promise<void> {
    const headSha = commitOf(run);
    if (!headSha) return;
    const { owner, repo } = run.repository;
    const { conclusion, title } = conclusionOf(run);
    const state: CheckState = {
      status: "completed",
      conclusion,
      completed_at: (run.finishedAt ?? new Date()).toISOString(),
      external_id: run.id,
      details_url: this.runUrl(run.id),
      output: {
        title: title.slice(0, 200),
        summary: `${summaryOf(run)}\n\nLater runs of ${run.routine} on this commit that are not started update this check.`.slice(0, 60_000),
      },
    };
    const key = `not-started:${owner}/${repo}@${headSha}:${run.routine}`.toLowerCase();
    await this.#put({ key, headSha, priority: 1, version: "next", state }, run);
  }

  async #put(entry: Pick<CheckEntry, "key" | "headSha" | "priority" | "version" | "state"> & { runId?: string }, run: RunRecord): Promise<void> {
    const recorded = await this.store.recordCheck({ ...entry, installationId: run.installationId, repository: run.repository, name: checkName(run.routine) });
    if (recorded) this.onRecorded();
  }
}
