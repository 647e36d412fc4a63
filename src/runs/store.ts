// What the run engine keeps, behind an interface so that a PostgreSQL store can stand beside
// the embedded SQLite one without touching its callers.
import type { RepositoryId, RunRequest, TokenUsage, TriggerDetails } from "../run-request.js";
import type { RunOutcome } from "../session/execution.js";
import type { ApiToken } from "./api-tokens.js";

export type { RunOutcome, TokenUsage };

/** Did the run run: the infrastructure's status, never the task's outcome (see RunOutcome). */
export type RunStatus = "queued" | "running" | "completed" | "errored" | "cancelled" | "rejected";

export interface RunRecord extends RunRequest {
  id: string;
  status: RunStatus;
  /** Why a run was rejected, errored or cancelled. */
  reason?: string;
  outcome?: RunOutcome;
  summary?: string;
  usage?: TokenUsage;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /** The run's check run on its pull request, once one is created. */
  checkRunId?: number;
}

/** The fields a status change may set. */
export type RunPatch = Partial<Pick<RunRecord, "status" | "reason" | "outcome" | "summary" | "usage" | "startedAt" | "finishedAt">>;

export interface TranscriptEvent {
  /** Position in the run's transcript, from 1. */
  seq: number;
  at: Date;
  kind: string;
  data: unknown;
}

export interface RecentRunsQuery {
  since: Date;
  installationId: number;
  /** Count only runs of these trigger kinds; all kinds when omitted. */
  triggerKinds?: ReadonlyArray<TriggerDetails["kind"]>;
  /** Narrow to one routine of one repository. */
  routine?: { repository: RepositoryId; name: string };
  /** Leave out one-off schedule runs. */
  withoutOneOff?: boolean;
}

export interface RunListQuery {
  limit: number;
  /** Only runs in these repositories (an empty list matches none). */
  repositories?: RepositoryId[];
  repository?: RepositoryId;
  routine?: string;
  status?: RunStatus;
  outcome?: RunOutcome;
  triggerKind?: TriggerDetails["kind"];
  /** Runs older than this run, for the next page. */
  before?: string;
}

/** A signed-in dashboard user; the store keeps the hash of the session id and the web layer's data. */
export interface StoredSession {
  idHash: string;
  /** JSON written and read by the dashboard. */
  data: string;
  createdAt: Date;
  expiresAt: Date;
}

export type InsertResult = { inserted: true } | { inserted: false; existingId: string };

export interface RunStore {
  /** Records a run. With a dedupe key already recorded, records nothing and names the earlier run. */
  insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(query: RunListQuery): Promise<RunRecord[]>;
  /** Runs that were not rejected, created since the given time. */
  countRecentRuns(query: RecentRunsQuery): Promise<number>;
  /** Queued runs that share the concurrency key (a routine on one pull request). */
  queuedRunIds(concurrencyKey: string): Promise<string[]>;
  /**
   * Starts the next queued run: from the installation with the fewest running runs, the oldest,
   * skipping runs whose concurrency key already has a running run.
   */
  claimNextRun(now: Date): Promise<RunRecord | undefined>;
  /** Changes a run that is in one of the `from` statuses; false when it is not. */
  transition(id: string, from: readonly RunStatus[], patch: RunPatch): Promise<boolean>;
  /** Marks every running run errored with reason "interrupted"; for the start of a process. */
  interruptRunning(now: Date): Promise<string[]>;
  /** What became of a one-off schedule: fired, missed, or nothing yet (undefined). */
  oneOffState(key: string): Promise<"fired" | "missed" | undefined>;
  /** Records a one-off's fate once; false when it was already recorded. */
  recordOneOff(key: string, state: "fired" | "missed", at: Date): Promise<boolean>;
  setInstallationDisabled(installationId: number, disabled: boolean): Promise<void>;
  isInstallationDisabled(installationId: number): Promise<boolean>;
  createApiToken(token: ApiToken): Promise<void>;
  getApiToken(triggerId: string): Promise<ApiToken | undefined>;
  listApiTokens(): Promise<ApiToken[]>;
  /** False when there is no such token, or it was already revoked. */
  revokeApiToken(triggerId: string, at: Date): Promise<boolean>;
  setCheckRunId(runId: string, checkRunId: number): Promise<void>;
  /** How many runs there are of each status and outcome. */
  countByState(): Promise<Array<{ status: RunStatus; outcome: RunOutcome | null; count: number }>>;
  createSession(session: StoredSession): Promise<void>;
  /** The session, when it exists and has not expired at `now`. */
  getSession(idHash: string, now: Date): Promise<StoredSession | undefined>;
  deleteSession(idHash: string): Promise<void>;
  appendEvent(runId: string, kind: string, data: unknown, at?: Date): Promise<number>;
  listEvents(runId: string, afterSeq?: number): Promise<TranscriptEvent[]>;
  /** Throws when the store cannot be read; cheap whatever the store holds, for /healthz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Runs of one routine on one pull request share a key: one may run, one may wait. */
export function concurrencyKey(request: RunRequest): string | undefined {
  const pr = request.context.pullRequest;
  return pr ? `${request.repository.owner}/${request.repository.repo}#${pr.number}:${request.routine}`.toLowerCase() : undefined;
}
