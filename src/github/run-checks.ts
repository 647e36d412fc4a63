// A check run `routines/<routine>` on the pull request's head for every run tied to a pull
// request: queued when admitted, in progress when its session starts, completed at the end with a
// conclusion that tells both statuses truthfully.
import type { Octokit } from "../config/read-config-file.js";
import type { RunObserver } from "../runs/run-observer.js";
import type { RunRecord, RunStore } from "../runs/store.js";

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
      if (run.stopReason !== undefined && run.stopReason !== "end_turn") return { conclusion: "failure", title: `Stopped: ${reason ?? run.stopReason}` };
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

const count = (n: number) => n.toLocaleString("en-US");

function summaryOf(run: RunRecord): string {
  const parts = [run.summary ?? run.reason ?? ""];
  if (run.usage) {
    const { inputTokens, cacheReadTokens, cacheWriteTokens, outputTokens } = run.usage;
    parts.push(
      ["| input | cache read | cache write | output |", "| --- | --- | --- | --- |", `| ${count(inputTokens)} | ${count(cacheReadTokens)} | ${count(cacheWriteTokens)} | ${count(outputTokens)} |`].join("\n"),
    );
  }
  parts.push(`Run \`${run.id}\`, started by ${run.trigger.kind === "command" ? `a /routine command from ${run.trigger.author}` : `a ${run.trigger.kind} trigger`}.`);
  return parts.filter(Boolean).join("\n\n").slice(0, 60_000);
}

export class CheckRunPublisher implements RunObserver {
  constructor(
    private readonly octokitFor: (installationId: number) => Promise<Octokit>,
    private readonly store: RunStore,
    private readonly runUrl: (runId: string) => string,
  ) {}

  async admitted(run: RunRecord): Promise<void> {
    const pr = run.context.pullRequest;
    if (!pr) return;
    const octokit = await this.octokitFor(run.installationId);
    if (run.status === "queued") {
      const { data } = await octokit.rest.checks.create({
        ...run.repository,
        name: checkName(run.routine),
        head_sha: pr.headSha,
        external_id: run.id,
        details_url: this.runUrl(run.id),
        status: "queued",
        output: { title: "Queued", summary: `Run \`${run.id}\` is waiting for a worker.` },
      });
      await this.store.setCheckRunId(run.id, data.id);
      return;
    }
    // Rejected runs get a completed check at once; runs superseded while queued close theirs.
    await this.finished(run);
  }

  async started(run: RunRecord): Promise<void> {
    await this.#update(run, {
      status: "in_progress",
      started_at: (run.startedAt ?? new Date()).toISOString(),
      output: { title: "Running", summary: `Run \`${run.id}\` is in progress.` },
    });
  }

  /** Interrupted before it published anything, and queued again: the check waits again. */
  async requeued(run: RunRecord): Promise<void> {
    await this.#update(run, {
      status: "queued",
      output: { title: "Queued again", summary: `Run \`${run.id}\` was interrupted by a stop of the server before it published anything, and waits to run again (attempt ${run.attempt ?? 2}).` },
    });
  }

  /** Moves the run's open check to another state; nothing for runs without one. */
  async #update(run: RunRecord, fields: { status: "queued" | "in_progress"; started_at?: string; output: { title: string; summary: string } }): Promise<void> {
    if (!run.context.pullRequest || run.checkRunId === undefined) return;
    const octokit = await this.octokitFor(run.installationId);
    await octokit.rest.checks.update({ ...run.repository, check_run_id: run.checkRunId, ...fields });
  }

  async finished(run: RunRecord): Promise<void> {
    const pr = run.context.pullRequest;
    if (!pr) return;
    const octokit = await this.octokitFor(run.installationId);
    const { conclusion, title } = conclusionOf(run);
    const result = {
      status: "completed" as const,
      conclusion,
      completed_at: (run.finishedAt ?? new Date()).toISOString(),
      details_url: this.runUrl(run.id),
      output: { title: title.slice(0, 200), summary: summaryOf(run) },
    };
    if (run.checkRunId !== undefined) {
      await octokit.rest.checks.update({ ...run.repository, check_run_id: run.checkRunId, ...result });
      return;
    }
    const { data } = await octokit.rest.checks.create({ ...run.repository, name: checkName(run.routine), head_sha: pr.headSha, external_id: run.id, ...result });
    await this.store.setCheckRunId(run.id, data.id);
  }
}
