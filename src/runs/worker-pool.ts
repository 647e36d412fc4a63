// Workers: take queued runs from the store, fairly across installations, and execute them, at
// most `concurrency` at a time. A run ends completed (with the agent's outcome and how its session
// stopped), errored (with the reason; a failing model API is an error), or cancelled. A run that a
// stop or a crash of the server interrupts is queued again once if it had published nothing yet;
// otherwise it is recorded as interrupted, since running it again could post everything twice.
// Each run is claimed under a lease that the pool renews while it runs: when a process dies or
// hangs, its lease expires and any pool sharing the store takes the run over and settles it the
// same way; a pool that starts leaves alone the runs that live processes hold. A cancel asked for
// in any process reaches the pool as a transcript signal, or at its next lease renewal, which also
// reads the transcripts of the runs it holds for cancel requests a lost signal did not bring.
import { publishes } from "../session/github-tools.js";
import type { ExecutionContext, RunExecutor, RunResult } from "../session/execution.js";
import type { Redactor } from "../session/redact.js";
import { cancelReason, CANCEL_REQUESTED } from "./cancel-run.js";
import { processOwner } from "./process-owner.js";
import type { RunObserver } from "./run-observer.js";
import type { Signals } from "./signals.js";
import { concurrencyKey, type RunLease, type RunRecord, type RunStore, type TranscriptEvent } from "./store.js";

export type { ExecutionContext, RunExecutor, RunResult };

export interface WorkerPoolOptions {
  concurrency: number;
  observer?: RunObserver;
  /** How often to look for queued runs besides being woken up, in milliseconds. */
  pollInterval?: number;
  /**
   * How long a claim holds without renewal, in milliseconds (default 60 s). The pool renews its
   * leases, and looks for runs whose lease expired, three times per lease.
   */
  leaseMs?: number;
  /**
   * The pool is the only one using the store (SQLite: one process owns the file), so the runs
   * found running at start are a stopped process's and are settled at once, not when their lease
   * expires.
   */
  soleProcess?: boolean;
  /** Names this pool in the leases it holds; a new name per pool by default. */
  owner?: string;
  /** Told of a run taken over from a stopped or hung process, before it is settled (to revoke the tokens it left). */
  onTakenOver?: (run: RunRecord) => Promise<void>;
  /** Where cancel requests and newly queued runs are heard of, from this process and the others sharing the store. */
  signals?: Signals;
  clock?: () => Date;
  onError?: (error: unknown) => void;
  /**
   * Applied to the reason and summary a run ends with, which the dashboard, the API and the check
   * run show: an error's message can quote what a command printed (a failed setup script's output).
   */
  redact?: Redactor;
}

/** An interrupted run runs at most this many times in all. */
export const MAX_ATTEMPTS = 2;

class Cancelled extends Error {}
const KILL_SWITCH = "routines were disabled for this installation (kill switch)";
/** The server is stopping: running runs are interrupted, not failed. */
class Stopping extends Error {}
/** Another process took the run over when this one's lease on it expired: that process settles it. */
class LeaseLost extends Error {}
const DEFAULT_LEASE_MS = 60_000;

export interface Recovered {
  /** Runs left running by the last process, queued again. */
  requeued: string[];
  /** Runs left running by the last process, recorded as interrupted. */
  interrupted: string[];
}

const settledAs = (recovered: Recovered, outcome: "requeued" | "interrupted", runId: string) => recovered[outcome].push(runId);

export class WorkerPool {
  /**
   * Runs going here; `claimed` orders claims against lease renewals; `seen` is the transcript
   * position up to which every event has been looked at for a cancel request.
   */
  readonly #running = new Map<string, { controller: AbortController; installationId: number; claimed: number; seen: number }>();
  #unsubscribe: (() => void) | undefined;
  #claims = 0;
  #leaseTimer: NodeJS.Timeout | undefined;
  /** The renewal of this pool's leases under way, and the reaping of others' expired ones: apart, so that a slow reaping never delays a renewal. */
  #renewing: Promise<void> | undefined;
  #reaping: Promise<void> | undefined;
  readonly #owner: string;
  readonly #listeners = new Set<(runId: string, event: TranscriptEvent) => void>();
  readonly #finished = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #filling: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(
    private readonly store: RunStore,
    private readonly executor: RunExecutor,
    private readonly options: WorkerPoolOptions,
  ) {
    this.#owner = options.owner ?? processOwner();
  }

  get #leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  #lease(): RunLease {
    return { owner: this.#owner, expiresAt: new Date(this.#now().getTime() + this.#leaseMs) };
  }

  /**
   * Settles the runs a stopped process left running (as the sole process, all of them; else those
   * whose lease expired), then starts taking runs.
   */
  async start(): Promise<Recovered> {
    const recovered: Recovered = { requeued: [], interrupted: [] };
    if (this.options.soleProcess) {
      for (const run of await this.store.runningRuns()) {
        await this.#takenOver(run);
        settledAs(recovered, await this.#settleInterrupted(run, "the server stopped unexpectedly while the run was going"), run.id);
      }
    } else {
      await this.#reap(recovered);
    }
    this.#stopped = false;
    this.#unsubscribe = this.options.signals?.subscribe((signal) => {
      if (signal.type === "queued") this.wake();
      else if (signal.type === "transcript" && signal.kind === CANCEL_REQUESTED && this.#running.has(signal.runId)) void this.#heedCancels([signal.runId]);
      else if (signal.type === "resync") void this.#heedCancels();
    });
    this.#timer = setInterval(() => this.wake(), this.options.pollInterval ?? 5_000);
    this.#timer.unref();
    this.#leaseTimer = setInterval(() => {
      this.#renewing ??= this.#chore(async () => {
        await this.#renew();
        await this.#heedCancels();
      }).finally(() => (this.#renewing = undefined));
      this.#reaping ??= this.#chore(() => this.#reap()).finally(() => (this.#reaping = undefined));
    }, this.#leaseMs / 3);
    this.#leaseTimer.unref();
    this.wake();
    return recovered;
  }

  /** One of the lease timer's chores, unless the pool stopped; a failure is reported, and the next tick tries again. */
  async #chore(work: () => Promise<void>): Promise<void> {
    if (this.#stopped) return;
    try {
      await work();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Extends the leases of the runs going here; a run whose lease another process took is stopped here. */
  async #renew(): Promise<void> {
    const before = this.#claims;
    const held = new Set(await this.store.renewLeases(this.#owner, [...this.#running.keys()], this.#lease().expiresAt));
    for (const [runId, { controller, claimed }] of this.#running) {
      // A run claimed while the renewal was on its way is held, whatever the renewal saw.
      if (claimed <= before && !held.has(runId) && !controller.signal.aborted) controller.abort(new LeaseLost("another process took the run over after its lease expired"));
    }
  }

  /**
   * Stops the sessions of runs whose transcript holds a cancel request (cancel-run.ts) recorded
   * since last looked at; all the runs going here, or those named.
   */
  async #heedCancels(runIds: readonly string[] = [...this.#running.keys()]): Promise<void> {
    try {
      for (const runId of runIds) {
        const going = this.#running.get(runId);
        if (!going || going.controller.signal.aborted) continue;
        for (const event of await this.store.listEvents(runId, going.seen)) {
          going.seen = Math.max(going.seen, event.seq);
          const reason = cancelReason(event.kind, event.data);
          if (reason !== undefined && !going.controller.signal.aborted) going.controller.abort(new Cancelled(reason));
        }
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  async #takenOver(run: RunRecord): Promise<void> {
    try {
      await this.options.onTakenOver?.(run);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Takes over runs whose lease expired (their process died or hung) and settles them. */
  async #reap(recovered?: Recovered): Promise<void> {
    const now = this.#now();
    const expired = (await this.store.expiredRuns(now)).filter((run) => !this.#running.has(run.id));
    // All at once: each run's tokens are revoked on GitHub, and a dead process's runs wait for none of the others'.
    const settled = await Promise.allSettled(
      expired.map(async (run) => {
        if (!(await this.store.takeExpiredLease(run.id, now, this.#lease()))) return;
        await this.#takenOver(run);
        const outcome = await this.#settleInterrupted(run, "the process running it stopped renewing its lease (it stopped, crashed or lost the database)", this.#owner);
        if (recovered) settledAs(recovered, outcome, run.id);
      }),
    );
    for (const result of settled) if (result.status === "rejected") this.options.onError?.(result.reason);
  }

  /** Looks for queued runs now (again, if a look is under way: a run may have been queued since). */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    if (this.#filling) return;
    this.#filling = (async () => {
      try {
        while (this.#again && !this.#stopped) {
          this.#again = false;
          await this.#fill();
        }
      } finally {
        // In the same step as the last look at #again: a wake cannot fall between them and be lost.
        this.#filling = undefined;
      }
    })();
  }

  /** Follows every transcript event as it is recorded; returns the way to stop following. */
  onEvent(listener: (runId: string, event: TranscriptEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops taking runs and interrupts the running ones: their commands are stopped and their
   * tokens revoked by the executor, and each is queued again or recorded as interrupted.
   */
  async stop(why = "the server was stopped"): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearInterval(this.#timer);
    clearInterval(this.#leaseTimer);
    await this.#filling;
    await Promise.all([this.#renewing, this.#reaping]);
    for (const { controller } of this.#running.values()) controller.abort(new Stopping(why));
    await Promise.all(this.#finished);
  }

  async #fill(): Promise<void> {
    try {
      await this.#enforceKillSwitches();
      while (!this.#stopped && this.#running.size < this.options.concurrency) {
        const run = await this.store.claimNextRun(this.#now(), this.#lease());
        if (!run) return;
        const finished = this.#execute(run);
        this.#finished.add(finished);
        void finished.finally(() => this.#finished.delete(finished));
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /**
   * Stops the runs of installations whose kill switch is thrown: running ones are aborted, queued
   * ones cancelled. Looked at on every fill, so a switch thrown by another process (the
   * `routines disable` command) takes effect within one poll interval.
   */
  async #enforceKillSwitches(): Promise<void> {
    const disabled = new Set(await this.store.disabledInstallations());
    if (disabled.size === 0) return;
    for (const { controller, installationId } of this.#running.values()) {
      if (disabled.has(installationId) && !controller.signal.aborted) controller.abort(new Cancelled(KILL_SWITCH));
    }
    for (const installationId of disabled) {
      for (const runId of await this.store.cancelQueuedRuns(installationId, KILL_SWITCH, this.#now())) await this.#tell("finished", runId);
    }
  }

  /** Tells the observer of the run as the store now has it; an observer's failure is only reported. */
  async #tell(what: "started" | "finished" | "requeued", runId: string): Promise<void> {
    const observer = this.options.observer?.[what];
    if (!observer) return;
    try {
      const run = await this.store.getRun(runId);
      if (run) await observer.call(this.options.observer, run);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  async #record(runId: string, kind: string, data: unknown): Promise<void> {
    const at = this.#now();
    const seq = await this.store.appendEvent(runId, kind, data, at);
    // This pool's own event, right after the last one looked at: nothing to look at for a cancel.
    const going = this.#running.get(runId);
    if (going && going.seen === seq - 1) going.seen = seq;
    for (const listener of this.#listeners) listener(runId, { seq, at, kind, data });
  }

  /** Whether the run's transcript shows a call that may have left marks outside the run. */
  async #published(runId: string): Promise<boolean> {
    const events = await this.store.listEvents(runId);
    // A call cut off at the output limit was never executed.
    return events.some((event) => {
      const call = event.data as { name?: unknown; truncated?: unknown };
      return event.kind === "tool_call" && call.truncated !== true && publishes(String(call.name));
    });
  }

  /** A run that was going when the server stopped: queued again once if it published nothing, else interrupted. */
  async #settleInterrupted(run: RunRecord, why: string, owner?: string): Promise<"requeued" | "interrupted"> {
    const attempt = run.attempt ?? 1;
    const published = await this.#published(run.id);
    if (!published && attempt < MAX_ATTEMPTS && (await this.store.requeue(run.id, attempt + 1, owner))) {
      await this.#record(run.id, "requeued", { why, attempt: attempt + 1 });
      await this.#tell("requeued", run.id);
      this.options.signals?.publish({ type: "queued" });
      return "requeued";
    }
    const reason = `interrupted: ${why}; ${published ? "it had already published to GitHub, so it was not run again" : `it was not run again (attempt ${attempt} of ${MAX_ATTEMPTS})`}`;
    await this.store.transition(run.id, ["running"], { status: "interrupted", reason, finishedAt: this.#now() }, owner);
    await this.#tell("finished", run.id);
    return "interrupted";
  }

  async #execute(run: RunRecord): Promise<void> {
    const controller = new AbortController();
    this.#running.set(run.id, { controller, installationId: run.installationId, claimed: ++this.#claims, seen: 0 });
    await this.#tell("started", run.id);
    const context: ExecutionContext = {
      signal: controller.signal,
      record: (kind, data) => this.#record(run.id, kind, data),
      spent: (costUsd) => this.store.addRunCost(run.id, costUsd),
      routineCost: async (since) => (await this.store.routineSpend({ repository: run.repository, routine: run.routine, since })).costUsd,
      lastReviewedCommit: async () => {
        const key = concurrencyKey(run);
        return key === undefined ? undefined : this.store.lastReviewedCommit(key, run.id);
      },
      tokens: {
        issued: (token, expiresAt) => this.store.recordRunToken({ token, runId: run.id, expiresAt }),
        revoked: (token) => this.store.forgetRunToken(token),
      },
    };
    let settled = false;
    try {
      const result = await this.executor.execute(run, context);
      // Only a session the signal cut short counts as cancelled or interrupted. One that ended on
      // its own is recorded as it ended, also when a stop came during its cleanup (revoking its
      // token): running it again would do its work twice.
      if (result.stopReason === "cancelled") controller.signal.throwIfAborted();
      // Not recorded: another process took the run over (this one's lease expired), and settles it.
      if (!(await this.#complete(run, result))) settled = true;
    } catch (error) {
      const cause = controller.signal.aborted ? controller.signal.reason : error;
      if (cause instanceof LeaseLost) {
        // The process that took the run over settles it and tells of it.
        settled = true;
      } else if (cause instanceof Stopping) {
        settled = true;
        await this.#settleInterrupted(run, cause.message, this.#owner).catch((storeError: unknown) => this.options.onError?.(storeError));
      } else {
        const reason = this.#redact(cause instanceof Error ? cause.message : String(cause));
        const recorded = await this.store
          .transition(run.id, ["running"], { status: cause instanceof Cancelled ? "cancelled" : "errored", reason, finishedAt: this.#now() }, this.#owner)
          .catch((storeError: unknown) => void this.options.onError?.(storeError));
        if (recorded === false) settled = true;
      }
    } finally {
      this.#running.delete(run.id);
      if (!settled) await this.#tell("finished", run.id);
      this.wake();
    }
  }

  /** A session that ended: completed with its outcome, or errored when the model API failed; false when this process no longer holds the run. */
  async #complete(run: RunRecord, result: RunResult): Promise<boolean> {
    const common = {
      finishedAt: this.#now(),
      ...(result.stopReason === undefined ? {} : { stopReason: result.stopReason }),
      ...(result.summary === undefined ? {} : { summary: this.#redact(result.summary) }),
      ...(result.usage === undefined ? {} : { usage: result.usage }),
    };
    if (result.stopReason === "model_error") {
      return this.store.transition(run.id, ["running"], { ...common, status: "errored", reason: this.#redact(`the model API failed: ${result.detail ?? "unknown error"}`) }, this.#owner);
    }
    const stoppedShort = result.stopReason !== undefined && result.stopReason !== "outcome_reported" && result.detail !== undefined;
    return this.store.transition(run.id, ["running"], { ...common, status: "completed", outcome: result.outcome, ...(stoppedShort ? { reason: this.#redact(result.detail!) } : {}) }, this.#owner);
  }

  #redact(text: string): string {
    return this.options.redact ? this.options.redact(text) : text;
  }

  #now(): Date {
    return this.options.clock?.() ?? new Date();
  }
}
