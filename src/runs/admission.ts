// Admission: every RunRequest is recorded, as queued or as rejected with its reason. A request
// seen before (a redelivered webhook) is not recorded twice; a disabled installation starts
// nothing; runs are capped per day per installation (one-off schedules exempt) and, when a
// webhook starts them, per hour per routine and per installation. A newer run of a routine on a
// pull request replaces the one still waiting.
import { randomBytes } from "node:crypto";
import type { RunRequest } from "../run-request.js";
import { SecretGrants } from "../config/secret-grants.js";
import { DAILY_WINDOW_MS, type OperatorBudget } from "../session/budget.js";
import { formatUsd } from "../session/pricing.js";
import type { RunObserver } from "./run-observer.js";
import { concurrencyKey, type RunRecord, type RunStore } from "./store.js";

export interface AdmissionLimits {
  /** Most runs per installation per day, one-off schedules aside. */
  dailyRunsPerInstallation: number;
  /** Most webhook-started runs (events and slash commands) per routine and repository per hour. */
  hourlyRunsPerRoutine: number;
  /** Most webhook-started runs per installation per hour. */
  hourlyRunsPerInstallation: number;
  /** The operator's default daily dollar budget per routine and repository, and its ceiling (which also applies to routines that set none). */
  budget?: Pick<OperatorBudget, "dailyUsd" | "maxDailyUsd">;
}

export type AdmissionResult =
  | { status: "queued"; run: RunRecord; superseded: string[] }
  | { status: "rejected"; run: RunRecord; reason: string }
  | { status: "duplicate"; runId: string };

/** What triggers call; the run engine implements it. */
export interface Admission {
  admit(request: RunRequest): Promise<AdmissionResult>;
}

const HOUR = 3_600_000;
const NO_SECRETS = new SecretGrants();
const WEBHOOK_KINDS = ["github", "command"] as const;

export const newRunId = () => `run_${randomBytes(10).toString("hex")}`;

/**
 * Deliveries of one webhook share an id, and each routine it starts is one run; a routine runs
 * once per scheduled minute, however many of its schedules fall on it.
 */
function dedupeKey(request: RunRequest): string | undefined {
  const { trigger, repository, routine } = request;
  if (trigger.kind === "github" || trigger.kind === "command") return `delivery:${trigger.deliveryId}:${routine}`;
  if (trigger.kind === "schedule") return `schedule:${repository.owner}/${repository.repo}:${routine}:${trigger.scheduledFor}`.toLowerCase();
  return undefined;
}

export interface AdmissionOptions {
  clock?: () => Date;
  /** Told of every queued run, so that workers start it without waiting for their next look. */
  onQueued?: () => void;
  /** The secrets the operator grants, and to which repositories; default none: a run that needs a secret is rejected. */
  secrets?: SecretGrants;
  observer?: RunObserver;
  onError?: (error: unknown) => void;
}

export class StoreAdmission implements Admission {
  constructor(
    private readonly store: RunStore,
    private readonly limits: AdmissionLimits,
    private readonly options: AdmissionOptions = {},
  ) {}

  async #tell(run: RunRecord | undefined): Promise<void> {
    if (!run) return;
    await this.options.observer?.admitted?.(run)?.catch((error: unknown) => this.options.onError?.(error));
  }

  async admit(request: RunRequest): Promise<AdmissionResult> {
    const now = this.options.clock?.() ?? new Date();
    // The checks and the writes happen under the installation's admission lock; observers and
    // workers hear of the result once it is recorded.
    const { result, changed } = await this.store.admitting(request.installationId, (store) => this.#record(store, request, now));
    for (const run of changed) await this.#tell(run);
    if (result.status === "queued") this.options.onQueued?.();
    return result;
  }

  async #record(store: RunStore, request: RunRequest, now: Date): Promise<{ result: AdmissionResult; changed: RunRecord[] }> {
    const reason = await this.#rejection(store, request, now);
    const run: RunRecord = { ...request, id: newRunId(), status: reason ? "rejected" : "queued", ...(reason ? { reason } : {}), createdAt: now };
    if (reason) run.finishedAt = now;
    // Runs waiting for the same routine on the same pull request, to replace once this one is in.
    const key = concurrencyKey(request);
    const waiting = key && !reason ? await store.queuedRunIds(key) : [];
    const inserted = await store.insertRun(run, dedupeKey(request));
    if (!inserted.inserted) return { result: { status: "duplicate", runId: inserted.existingId }, changed: [] };
    if (reason) return { result: { status: "rejected", run, reason }, changed: [run] };

    const superseded: string[] = [];
    const changed = [run];
    for (const id of waiting) {
      if (await store.transition(id, ["queued"], { status: "cancelled", reason: `superseded by ${run.id}`, finishedAt: now })) {
        superseded.push(id);
        const cancelled = await store.getRun(id);
        if (cancelled) changed.push(cancelled);
      }
    }
    return { result: { status: "queued", run, superseded }, changed };
  }

  async #rejection(store: RunStore, request: RunRequest, now: Date): Promise<string | undefined> {
    const { installationId, repository, routine, trigger } = request;
    if (await store.isInstallationDisabled(installationId)) return "routines are disabled for this installation (kill switch)";
    const secrets = (this.options.secrets ?? NO_SECRETS).problem(request.context.requiredSecrets ?? [], repository);
    if (secrets) return secrets;
    const { dailyRunsPerInstallation, hourlyRunsPerRoutine, hourlyRunsPerInstallation } = this.limits;
    const oneOff = trigger.kind === "schedule" && trigger.oneOff;
    if (!oneOff) {
      const today = await store.countRecentRuns({ since: new Date(now.getTime() - 24 * HOUR), installationId, withoutOneOff: true, atMost: dailyRunsPerInstallation });
      if (today >= dailyRunsPerInstallation) {
        return `daily cap reached: ${today} runs in this installation in the last 24 hours (limit ${dailyRunsPerInstallation}, ROUTINES_DAILY_RUNS_PER_INSTALLATION)`;
      }
    }
    const budget = await this.#dailyBudgetSpent(store, request, now);
    if (budget) return budget;
    if (!(WEBHOOK_KINDS as readonly string[]).includes(trigger.kind)) return undefined;
    const hour = { since: new Date(now.getTime() - HOUR), installationId, triggerKinds: WEBHOOK_KINDS };
    const forRoutine = await store.countRecentRuns({ ...hour, routine: { repository, name: routine }, atMost: hourlyRunsPerRoutine });
    if (forRoutine >= hourlyRunsPerRoutine) {
      return `hourly cap reached: ${forRoutine} webhook-started runs of ${routine} in ${repository.owner}/${repository.repo} in the last hour (limit ${hourlyRunsPerRoutine}, ROUTINES_HOURLY_RUNS_PER_ROUTINE)`;
    }
    const forInstallation = await store.countRecentRuns({ ...hour, atMost: hourlyRunsPerInstallation });
    if (forInstallation >= hourlyRunsPerInstallation) {
      return `hourly cap reached: ${forInstallation} webhook-started runs in this installation in the last hour (limit ${hourlyRunsPerInstallation}, ROUTINES_HOURLY_RUNS_PER_INSTALLATION)`;
    }
    return undefined;
  }

  /** A routine whose runs in the repository have spent its daily budget in the last 24 hours starts no more until older runs leave the window. */
  async #dailyBudgetSpent(store: RunStore, { repository, routine, context }: RunRequest, now: Date): Promise<string | undefined> {
    const daily = context.dailyBudgetUsd ?? this.limits.budget?.dailyUsd ?? this.limits.budget?.maxDailyUsd;
    if (daily === undefined) return undefined;
    const spent = await store.routineSpend({ repository, routine, since: new Date(now.getTime() - DAILY_WINDOW_MS) });
    // Spent: all of it, or so nearly that a run was stopped for want of what was left.
    if (spent.costUsd < daily && !spent.exhausted) return undefined;
    const source = context.dailyBudgetUsd !== undefined ? "budget.daily_usd" : this.limits.budget?.dailyUsd !== undefined ? "ROUTINES_BUDGET_DAILY_USD" : "ROUTINES_BUDGET_MAX_DAILY_USD";
    const left = spent.costUsd < daily ? ", too little left for a model call" : "";
    // The headline first: a check run's title keeps 200 characters.
    return `daily budget of ${formatUsd(daily)} spent (${source}): runs of ${routine} in ${repository.owner}/${repository.repo} cost ${formatUsd(spent.costUsd)} in the last 24 hours${left}; new runs start when those runs are 24 hours old`;
  }
}
