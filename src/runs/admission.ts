// Admission: every RunRequest is recorded, as queued or as rejected with its reason. A request
// seen before (a redelivered webhook) is not recorded twice, and webhook-started runs are capped
// per hour, per routine and per installation.
import { randomBytes } from "node:crypto";
import type { RunRequest } from "./run-request.js";
import type { RunRecord, RunStore } from "./store.js";

export interface AdmissionLimits {
  /** Most webhook-started runs (events and slash commands) per routine and repository per hour. */
  hourlyRunsPerRoutine: number;
  /** Most webhook-started runs per installation per hour. */
  hourlyRunsPerInstallation: number;
}

export type AdmissionResult =
  | { status: "queued"; run: RunRecord }
  | { status: "rejected"; run: RunRecord; reason: string }
  | { status: "duplicate"; runId: string };

/** What triggers call; the run engine implements it. */
export interface Admission {
  admit(request: RunRequest): Promise<AdmissionResult>;
}

const HOUR = 3_600_000;
const WEBHOOK_KINDS = ["github", "command"] as const;

export const newRunId = () => `run_${randomBytes(10).toString("hex")}`;

/** Deliveries of one webhook share an id; each routine it starts is one run. */
function dedupeKey(request: RunRequest): string | undefined {
  const { trigger } = request;
  if (trigger.kind === "github" || trigger.kind === "command") return `delivery:${trigger.deliveryId}:${request.routine}`;
  return undefined;
}

export class StoreAdmission implements Admission {
  constructor(
    private readonly store: RunStore,
    private readonly limits: AdmissionLimits,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async admit(request: RunRequest): Promise<AdmissionResult> {
    const now = this.clock();
    const reason = await this.#capReason(request, now);
    const run: RunRecord = { ...request, id: newRunId(), status: reason ? "rejected" : "queued", ...(reason ? { reason } : {}), createdAt: now };
    const inserted = await this.store.insertRun(run, dedupeKey(request));
    if (!inserted.inserted) return { status: "duplicate", runId: inserted.existingId };
    return reason ? { status: "rejected", run, reason } : { status: "queued", run };
  }

  async #capReason(request: RunRequest, now: Date): Promise<string | undefined> {
    if (!(WEBHOOK_KINDS as readonly string[]).includes(request.trigger.kind)) return undefined;
    const since = new Date(now.getTime() - HOUR);
    const query = { since, installationId: request.installationId, triggerKinds: WEBHOOK_KINDS };
    const { hourlyRunsPerRoutine, hourlyRunsPerInstallation } = this.limits;
    const forRoutine = await this.store.countRecentRuns({ ...query, routine: { repository: request.repository, name: request.routine } });
    if (forRoutine >= hourlyRunsPerRoutine) {
      return `hourly cap reached: ${forRoutine} webhook-started runs of ${request.routine} in ${request.repository.owner}/${request.repository.repo} in the last hour (limit ${hourlyRunsPerRoutine}, ROUTINES_HOURLY_RUNS_PER_ROUTINE)`;
    }
    const forInstallation = await this.store.countRecentRuns(query);
    if (forInstallation >= hourlyRunsPerInstallation) {
      return `hourly cap reached: ${forInstallation} webhook-started runs in this installation in the last hour (limit ${hourlyRunsPerInstallation}, ROUTINES_HOURLY_RUNS_PER_INSTALLATION)`;
    }
    return undefined;
  }
}
