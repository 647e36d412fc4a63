// What the run engine keeps, behind an interface so that a PostgreSQL store can stand beside
// the embedded SQLite one without touching its callers.
import type { RepositoryId, RunRequest, TokenUsage, TriggerDetails } from "../run-request.js";
import type { RunOutcome } from "../session/execution.js";
import type { ApiToken } from "./api-tokens.js";
import type { IdempotencyRecord, IdempotentAnswer } from "./idempotency-keys.js";

export type { RunOutcome, TokenUsage };

/**
 * Did the run run: the infrastructure's status, never the task's outcome (see RunOutcome).
 * `interrupted`: the server stopped or crashed while the run went on, after it had published
 * something (else it is queued again once).
 */
export const RUN_STATUSES = ["queued", "running", "completed", "errored", "interrupted", "cancelled", "rejected"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunRecord extends RunRequest {
  id: string;
  status: RunStatus;
  /** Why a run was rejected, errored, interrupted or cancelled, or why its session stopped short. */
  reason?: string;
  outcome?: RunOutcome;
  /** How the session ended (outcome_reported, end_turn, max_turns, timeout, …), once it has. */
  stopReason?: string;
  /** 1 for the first execution; 2 when an interrupted run was queued again. */
  attempt?: number;
  summary?: string;
  usage?: TokenUsage;
  /** What the run's model calls have cost so far, in dollars; absent when the model's price is unknown or no call was made. */
  costUsd?: number;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /** The run's check run on its pull request, once one is created. */
  checkRunId?: number;
}

/**
 * A claim on a running run: the process that runs it (`owner`) renews it while the run goes; once
 * it has expired, any process may take the run over and settle it.
 */
export interface RunLease {
  owner: string;
  expiresAt: Date;
}

/**
 * Text as the stores keep it: PostgreSQL's text cannot hold a NUL character, so both stores keep
 * U+FFFD in its place (a session's summary or an error's message may quote binary output).
 */
export const storableText = (text: string): string => (text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text);

/** The fields a status change may set. */
export type RunPatch = Partial<Pick<RunRecord, "status" | "reason" | "outcome" | "summary" | "usage" | "startedAt" | "finishedAt" | "stopReason">>;

/** An installation token minted for a run, kept until it is revoked so a crash cannot leave it alive. */
export interface RunToken {
  token: string;
  runId: string;
  expiresAt: Date;
}

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
  /** Stop counting here: a cap needs to know only whether it is reached, not by how much. */
  atMost?: number;
}

export interface RoutineCostQuery {
  repository: RepositoryId;
  routine: string;
  /** Runs created since this time. */
  since: Date;
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

/** A verified webhook delivery as the receiver writes it to the inbox. */
export interface InboxEntry {
  /** X-GitHub-Delivery: GitHub keeps it when it redelivers, so it is the inbox's dedupe key. */
  id: string;
  /** X-GitHub-Event. */
  name: string;
  /** The JSON body as it was signed. */
  body: string;
  /** Deliveries with the same key (one pull request or issue) are handled one at a time, in order of arrival. */
  orderingKey?: string;
  receivedAt: Date;
}

/** A replay of an earlier delivery's body (nothing written), or written to the inbox (false when its id was there already). */
export type DeliveryAcceptance = { replayOf: string } | { queued: boolean };

/** pending: waiting or being handled; done: its handlers ran; failed: they failed on every attempt. */
export type InboxState = "pending" | "done" | "failed";
/** The states of a delivery not done: waiting for its handlers, or given up. */
export type UndoneState = Exclude<InboxState, "done">;

export interface InboxDelivery extends InboxEntry {
  /** Times its handlers were started, counting those a stopped server cut short. */
  attempts: number;
  state: InboxState;
  /** Why it failed. */
  error?: string;
}

export type PendingDelivery = Pick<InboxDelivery, "id" | "orderingKey" | "attempts">;

/** The queues whose items a process claims before it works on one: the webhook inbox and the GitHub-write outboxes. */
export const CLAIM_QUEUES = ["inbox", "checks", "replies", "status_comments"] as const;
export type ClaimQueue = (typeof CLAIM_QUEUES)[number];

/**
 * A process's claim on an item of the inbox or an outbox. No other process takes the item before
 * `expiresAt`, which the owner pushes on while it works (renewClaims); the items of a process that
 * died are taken again once it passes. Recording the item's outcome ends the claim.
 */
export interface ItemClaim {
  owner: string;
  expiresAt: Date;
}

/** What a check run should show; the fields GitHub's check-run API takes. */
export interface CheckState {
  status: "queued" | "in_progress" | "completed";
  conclusion?: "success" | "failure" | "neutral" | "cancelled" | "action_required";
  started_at?: string;
  completed_at?: string;
  details_url?: string;
  /** Names the run the check shows (GitHub's Re-run button starts it again). */
  external_id: string;
  output: { title: string; summary: string };
}

/**
 * The newest state of one check run, waiting to be published. A row per check run: recording a
 * state replaces the one waiting, so only the newest is ever sent.
 */
export interface CheckEntry {
  /** The check run's identity in the outbox: `run:<id>`, or one per commit and routine for runs not started. */
  key: string;
  runId?: string;
  installationId: number;
  repository: RepositoryId;
  headSha: string;
  name: string;
  /** 0 before 1: a run's own check before summaries of runs not started. */
  priority: number;
  /**
   * Higher is newer; a state with a version not above the one recorded is stale and dropped.
   * "next": one above the recorded one (summaries, whose every change is news).
   */
  version: number | "next";
  state: CheckState;
}

export interface PendingCheck extends Omit<CheckEntry, "version"> {
  version: number;
  checkRunId?: number;
  /** A creation was sent and its answer never recorded (the process died): look before creating again. */
  creating: boolean;
  /** Failed attempts since the last success. */
  attempts: number;
}

/**
 * What a slash command answers on its issue or pull request: a reaction on the command's comment,
 * or a comment of its own.
 */
export type ReplyWrite = { kind: "reaction"; commentId: number; content: "eyes" } | { kind: "comment"; body: string };

/** A reaction or reply waiting to be sent; its key (one per delivery and what it is) records it once. */
export interface ReplyEntry {
  key: string;
  installationId: number;
  repository: RepositoryId;
  issueNumber: number;
  write: ReplyWrite;
}

export interface PendingReply extends ReplyEntry {
  /** A creation was sent and its answer never recorded: look for it on GitHub before creating it again. */
  creating: boolean;
  /** Failed attempts so far. */
  attempts: number;
}

/**
 * The live status comment of one routine on one pull request (github/status-comments.ts): what it
 * shows, kept for the next change, and the text waiting to be published. A row per pull request
 * and routine; recording replaces the text waiting, so only the newest is ever sent.
 */
export interface StatusCommentEntry {
  /** The pull request and routine, as the runs' concurrency key names them (`owner/repo#7:review`, lower-case). */
  key: string;
  installationId: number;
  repository: RepositoryId;
  issueNumber: number;
  /** The publisher's own state of the comment (JSON text); a store keeps it as it is, unread. */
  state: string;
  /** The comment's text to publish. */
  body: string;
}

export interface StatusCommentRecord extends StatusCommentEntry {
  /** 1 for the first recorded state, one more for each after it. */
  version: number;
}

export interface PendingStatusComment extends StatusCommentRecord {
  /** The comment on GitHub, once it was created or found (until then it is looked for by its hidden marker before one is created). */
  commentId?: number;
  /** Failed attempts since the last success. */
  attempts: number;
}

/**
 * A finding a routine posted as an inline review comment on a pull request (the first comment of
 * its thread), as github/finding-signals.ts reads it back from GitHub.
 */
export interface FindingRecord {
  repository: RepositoryId;
  installationId: number;
  pullNumber: number;
  routine: string;
  /** The review comment that carries it: GitHub's id, unique on the instance. */
  commentId: number;
  path: string;
  side: "LEFT" | "RIGHT";
  /** First and last line (equal for a one-line finding), on the commit it was posted on. */
  startLine: number;
  endLine: number;
  /** The pull request's head when it was posted. */
  headSha: string;
  postedAt: Date;
}

/** What became of a finding; a signal left out is not known (never read, or GitHub did not answer). */
export interface FindingSignals {
  /** Its review thread is resolved. */
  resolved?: boolean;
  /** A commit of the pull request after it was posted changed its lines. */
  linesChanged?: boolean;
  /** 👍 and 👎 reactions on it, the app's own left out. */
  thumbsUp?: number;
  thumbsDown?: number;
}

export interface StoredFinding extends FindingRecord, FindingSignals {
  /** When its pull request was merged; absent while it is not (or not known to be). */
  mergedAt?: Date;
}

/** One routine's findings on merged pull requests, with their signals (see findingStats). */
export interface RoutineFindingStats {
  repository: RepositoryId;
  routine: string;
  /** Findings on merged pull requests. */
  findings: number;
  /** Those whose thread was resolved or whose lines changed before the merge. */
  addressed: number;
  /** Those not addressed as far as is known, with a signal that could not be read: left out of the share. */
  unknown: number;
  /** Merged pull requests they were on. */
  pullRequests: number;
  thumbsUp: number;
  thumbsDown: number;
}

export type InsertResult = { inserted: true } | { inserted: false; existingId: string };

export interface RunStore {
  /**
   * Runs `admit` while no other admission of the installation runs, in this process or another
   * sharing the store, so that what it counts and checks is still true when it records its run.
   * `admit` must use the store it is given; on PostgreSQL its writes land together or not at all.
   */
  admitting<T>(installationId: number, admit: (store: RunStore) => Promise<T>): Promise<T>;
  /** Records a run. With a dedupe key already recorded, records nothing and names the earlier run. */
  insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult>;
  /**
   * A verified delivery, stored with one commit on the acknowledgement's path unless it is a replay,
   * the same body received earlier under another id within `windowMs` (GitHub's redelivery keeps
   * the id), and found by the inbox's queries from then on. The delivery's `receivedAt` is the time
   * the window counts from.
   */
  acceptDelivery(delivery: InboxEntry, bodyHash: string, windowMs: number): Promise<DeliveryAcceptance>;
  /** Writes a delivery to the inbox; false, writing nothing, when its id is already there. */
  enqueueDelivery(delivery: InboxEntry): Promise<boolean>;
  /**
   * Pending deliveries that may start at `now`, in order of arrival, without their bodies: none
   * that a process holds a claim on, nor one behind an earlier pending delivery of its ordering key.
   */
  pendingDeliveries(limit: number, now: Date): Promise<PendingDelivery[]>;
  /**
   * Deliveries not done, by state: pending ones wait for their handlers, failed ones gave up. Done
   * ones are not counted: they are most of the inbox, and nobody asks (the metrics scrape this).
   */
  countDeliveries(): Promise<Array<{ state: UndoneState; count: number }>>;
  /**
   * Claims a pending delivery for `claim.owner` (again, when it holds it already), counts an
   * attempt and returns it; undefined when it is not pending, another process's claim on it has
   * not expired at `now`, or an earlier pending delivery of its ordering key waits.
   */
  startDelivery(id: string, claim: ItemClaim, now: Date): Promise<InboxDelivery | undefined>;
  /** Records a pending delivery as done, or as failed with the error; its claim ends. */
  finishDelivery(id: string, at: Date, error?: string): Promise<void>;
  getDelivery(id: string): Promise<InboxDelivery | undefined>;
  /** Forgets deliveries done or failed before the time; returns how many. */
  pruneDeliveries(finishedBefore: Date): Promise<number>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(query: RunListQuery): Promise<RunRecord[]>;
  /** Runs that were not rejected, created since the given time. */
  countRecentRuns(query: RecentRunsQuery): Promise<number>;
  /** Queued runs that share the concurrency key (a routine on one pull request). */
  queuedRunIds(concurrencyKey: string): Promise<string[]>;
  /**
   * Starts the next queued run under `lease`: from the installation with the fewest running runs,
   * the oldest, skipping runs whose concurrency key already has a running run.
   */
  claimNextRun(now: Date, lease: RunLease): Promise<RunRecord | undefined>;
  /**
   * Extends the leases `owner` holds on these running runs to `expiresAt`; returns the ids of those
   * it still holds. Runs of `owner` not named are left to expire (the process lost track of them).
   */
  renewLeases(owner: string, runIds: readonly string[], expiresAt: Date): Promise<string[]>;
  /** Running runs whose lease expired by `now`, or that carry none (started before leases were kept). */
  expiredRuns(now: Date): Promise<RunRecord[]>;
  /** Takes over a running run whose lease expired by `now`; false when it has not expired, or the run is no longer running. */
  takeExpiredLease(id: string, now: Date, lease: RunLease): Promise<boolean>;
  /**
   * Changes a run that is in one of the `from` statuses, and, with `owner`, only while `owner`
   * holds its lease; false when it is not.
   */
  transition(id: string, from: readonly RunStatus[], patch: RunPatch, owner?: string): Promise<boolean>;
  /** Adds the cost of a model call to the run's. */
  addRunCost(id: string, costUsd: number): Promise<void>;
  /**
   * What the routine's runs in the repository created since the time have cost, in dollars, and
   * whether one of them was stopped because too little of the daily budget was left (daily_budget).
   */
  routineSpend(query: RoutineCostQuery): Promise<{ costUsd: number; exhausted: boolean }>;
  /**
   * The head commit of the newest run of `concurrencyKey` (one routine on one pull request) that
   * completed and succeeded, `exceptRunId` left out: the commit the routine last reviewed there.
   */
  lastReviewedCommit(concurrencyKey: string, exceptRunId: string): Promise<string | undefined>;
  /** Runs recorded as running: at the start of a process, those the last one left behind. */
  runningRuns(): Promise<RunRecord[]>;
  /** Queues a running run again for its next attempt (with `owner`, only while `owner` holds its lease); false when it is not running. */
  requeue(id: string, attempt: number, owner?: string): Promise<boolean>;
  recordRunToken(token: RunToken): Promise<void>;
  forgetRunToken(token: string): Promise<void>;
  /**
   * Tokens that were never revoked and have not expired at `now`, of runs that are not running: a
   * running run's tokens are its process's, and are revoked when another process takes it over.
   */
  liveRunTokens(now: Date): Promise<RunToken[]>;
  /** The tokens kept for one run. */
  runTokens(runId: string): Promise<RunToken[]>;
  /** What became of a one-off schedule: fired, missed, or nothing yet (undefined). */
  oneOffState(key: string): Promise<"fired" | "missed" | undefined>;
  /** Records a one-off's fate once; false when it was already recorded. */
  recordOneOff(key: string, state: "fired" | "missed", at: Date): Promise<boolean>;
  setInstallationDisabled(installationId: number, disabled: boolean): Promise<void>;
  isInstallationDisabled(installationId: number): Promise<boolean>;
  /** Installations whose kill switch is thrown. */
  disabledInstallations(): Promise<number[]>;
  /** Cancels the installation's queued runs with the reason; returns their ids. */
  cancelQueuedRuns(installationId: number, reason: string, at: Date): Promise<string[]>;
  createApiToken(token: ApiToken): Promise<void>;
  getApiToken(triggerId: string): Promise<ApiToken | undefined>;
  listApiTokens(): Promise<ApiToken[]>;
  /** False when there is no such token, or it was already revoked. */
  revokeApiToken(triggerId: string, at: Date): Promise<boolean>;
  /**
   * Claims an API fire's idempotency key, first forgetting keys past their window and claims
   * abandoned unanswered. Returns the key's earlier record when it is taken (nothing is claimed
   * then), or undefined when this claim took it.
   */
  claimIdempotencyKey(claim: Omit<IdempotencyRecord, "answer">): Promise<IdempotencyRecord | undefined>;
  /** Records what the fire that claimed the key answered, for its retries. */
  answerIdempotencyKey(keyHash: string, answer: IdempotentAnswer): Promise<void>;
  /** Frees an unanswered claim (its fire started no run), so a retry may try again. */
  releaseIdempotencyKey(keyHash: string): Promise<void>;
  setCheckRunId(runId: string, checkRunId: number): Promise<void>;
  /** Records a check state for publishing; false when a newer one is already recorded (stale). */
  recordCheck(entry: CheckEntry): Promise<boolean>;
  /** Check states newer than the published ones and due at `now`: runs' own first, then in the order they fell due. */
  pendingChecks(now: Date, limit: number): Promise<PendingCheck[]>;
  /** Claims check states as pendingChecks lists them, leaving out those under another claim that has not expired. */
  claimChecks(now: Date, limit: number, claim: ItemClaim): Promise<PendingCheck[]>;
  /** A creation is on its way to GitHub. */
  markCheckCreating(key: string): Promise<void>;
  /** `version` is on GitHub as check run `checkRunId`; an older version is never sent after it. Its claim ends. */
  markCheckPublished(key: string, version: number, checkRunId: number | undefined): Promise<void>;
  /** The attempt failed: try again at `retryAt`. Its claim ends. */
  markCheckFailed(key: string, retryAt: Date): Promise<void>;
  /** Records a reply for sending, once per key at `at`; false when its key is already recorded. */
  recordReply(entry: ReplyEntry, at: Date): Promise<boolean>;
  /**
   * Replies due at `now` that are next on their issue or pull request (one per issue: a later one
   * waits for those before it), oldest first.
   */
  pendingReplies(now: Date, limit: number): Promise<PendingReply[]>;
  /** Claims replies as pendingReplies lists them, leaving out those under another claim that has not expired. */
  claimReplies(now: Date, limit: number, claim: ItemClaim): Promise<PendingReply[]>;
  /** A creation is on its way to GitHub. */
  markReplyCreating(key: string): Promise<void>;
  /** The reply is on GitHub, or was given up: it is never sent again. Its claim ends. */
  markReplyDone(key: string, at: Date, outcome: "sent" | "abandoned"): Promise<void>;
  /** The attempt failed: try again at `retryAt`. Its claim ends. */
  markReplyFailed(key: string, retryAt: Date): Promise<void>;
  /** Forgets replies done before the time (their deliveries can no longer come again); returns how many. */
  pruneReplies(doneBefore: Date): Promise<number>;
  /** The status comment's newest recorded state, published or not. */
  statusComment(key: string): Promise<StatusCommentRecord | undefined>;
  /**
   * Records a status comment's next state (version `expected + 1`) when the newest recorded one
   * is still version `expected` (0: none yet); false, recording nothing, when another came first:
   * the caller reads it again and builds on it. A compare-and-set, so processes may share a row.
   */
  recordStatusComment(entry: StatusCommentEntry, expected: number): Promise<boolean>;
  /** Status comments whose newest text is not yet on GitHub and due at `now`, in the order they fell due. */
  pendingStatusComments(now: Date, limit: number): Promise<PendingStatusComment[]>;
  /** Claims status comments as pendingStatusComments lists them, leaving out those under another claim that has not expired. */
  claimStatusComments(now: Date, limit: number, claim: ItemClaim): Promise<PendingStatusComment[]>;
  /**
   * `version` is on GitHub as comment `commentId` (undefined: keep the one recorded; a given-up
   * version is marked so too); an older version is never sent after it. Its claim ends.
   */
  markStatusCommentPublished(key: string, version: number, commentId: number | undefined): Promise<void>;
  /** The attempt failed: try again at `retryAt`. Its claim ends. */
  markStatusCommentFailed(key: string, retryAt: Date): Promise<void>;
  /**
   * Extends `owner`'s claims on these items (delivery ids, outbox keys) to `expiresAt`; returns the
   * keys of those it still holds.
   */
  renewClaims(queue: ClaimQueue, owner: string, keys: readonly string[], expiresAt: Date): Promise<string[]>;
  /**
   * Ends every claim on the queue's items, whoever holds it: for a process that is the store's
   * only one (SQLite), whose claims a stopped process left. Returns how many.
   */
  releaseClaims(queue: ClaimQueue): Promise<number>;
  /** Whether any run of any routine was recorded on the pull request (or issue) of that number. */
  ranOnPullRequest(repository: RepositoryId, number: number): Promise<boolean>;
  /** Records a posted finding once (by repository and comment id); false when it was already recorded. */
  recordFinding(finding: FindingRecord): Promise<boolean>;
  /** Sets the signals given (those left out keep their value); false when there is no such finding. */
  updateFindingSignals(repository: RepositoryId, commentId: number, signals: FindingSignals): Promise<boolean>;
  /** Records that the pull request was merged at the time, for every finding on it. */
  markFindingsMerged(repository: RepositoryId, pullNumber: number, at: Date): Promise<void>;
  /** The findings recorded on one pull request, oldest first. */
  pullRequestFindings(repository: RepositoryId, pullNumber: number): Promise<StoredFinding[]>;
  /** Per routine of these repositories (an empty list matches none), its findings on merged pull requests. */
  findingStats(repositories: readonly RepositoryId[]): Promise<RoutineFindingStats[]>;
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

/** How many of a key's newest finished runs lastReviewedCommit looks through for one on a pull request (an issue shares the key's number space). */
export const REVIEWED_LOOKBACK = 20;

/** The pull request head a stored request was for. */
export const reviewedCommitOf = (requestJson: string): string | undefined => (JSON.parse(requestJson) as RunRequest).context.pullRequest?.headSha;

/** Runs of one routine on one pull request or issue share a key: one may run, one may wait. */
export function concurrencyKey(request: RunRequest): string | undefined {
  // Pull requests and issues share one series of numbers in a repository.
  const number = request.context.pullRequest?.number ?? request.context.issue?.number;
  return number !== undefined ? `${request.repository.owner}/${request.repository.repo}#${number}:${request.routine}`.toLowerCase() : undefined;
}
