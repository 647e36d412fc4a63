// What the run engine keeps, behind an interface so that a PostgreSQL store can stand beside
// the embedded SQLite one without touching its callers.
import type { RepositoryId, RunRequest, TriggerDetails } from "./run-request.js";

/** Did the run run: the infrastructure's status, never the task's outcome. */
export type RunStatus = "queued" | "running" | "completed" | "errored" | "cancelled" | "rejected";
/** Did the task succeed, as the agent reported it. */
export type RunOutcome = "succeeded" | "failed" | "unknown";

export interface RunRecord extends RunRequest {
  id: string;
  status: RunStatus;
  /** Why a run was rejected, errored or cancelled. */
  reason?: string;
  outcome?: RunOutcome;
  createdAt: Date;
}

export interface RecentRunsQuery {
  since: Date;
  installationId: number;
  triggerKinds: ReadonlyArray<TriggerDetails["kind"]>;
  /** Narrow to one routine of one repository. */
  routine?: { repository: RepositoryId; name: string };
}

export type InsertResult = { inserted: true } | { inserted: false; existingId: string };

export interface RunStore {
  /** Records a run. With a dedupe key already recorded, records nothing and names the earlier run. */
  insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Runs that were not rejected, created since the given time. */
  countRecentRuns(query: RecentRunsQuery): Promise<number>;
  close(): Promise<void>;
}
