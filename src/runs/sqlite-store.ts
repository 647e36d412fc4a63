// The embedded store: SQLite through better-sqlite3, in one file under the data directory.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { RepositoryId } from "../run-request.js";
import type { ApiToken } from "./api-tokens.js";
import { ABANDONED_CLAIM_MS, IDEMPOTENCY_WINDOW_MS, type IdempotencyRecord, type IdempotentAnswer } from "./idempotency-keys.js";
import {
  concurrencyKey,
  storableText,
  type InboxDelivery,
  type DeliveryAcceptance,
  type InboxEntry,
  type InboxState,
  type UndoneState,
  type FindingRecord,
  type FindingSignals,
  type InsertResult,
  type RoutineFindingStats,
  type StoredFinding,
  type PendingDelivery,
  type CheckEntry,
  type CheckState,
  type ClaimQueue,
  type ItemClaim,
  type PendingCheck,
  type PendingReply,
  type PendingStatusComment,
  type StatusCommentEntry,
  type StatusCommentRecord,
  type ReplyEntry,
  type ReplyWrite,
  type RecentRunsQuery,
  type RoutineCostQuery,
  type RunLease,
  type RunListQuery,
  type RunPatch,
  type RunOutcome,
  type RunRecord,
  type RunStatus,
  type RunStore,
  type RunToken,
  type StoredSession,
  type TranscriptEvent,
  REVIEWED_LOOKBACK,
  reviewedCommitOf,
} from "./store.js";
import { startCheckpointer, type Checkpointer } from "./wal-checkpointer.js";

export interface SqliteStoreOptions {
  /** Copy the write-ahead log back into the database from a thread of its own, not in the writes. */
  checkpointOffThread?: boolean;
  /** Told when that thread fails (the writes checkpoint again then), or received deliveries could not be added to the inbox. */
  onError?: (error: Error) => void;
}

/** SQLite's own: a write that takes the log past this many pages checkpoints it. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;
const CHECKPOINT_INTERVAL_MS = 200;
/** How long a received delivery may wait for its inbox row when nothing reads the inbox first. */
const INDEX_AFTER_MS = 10;

/** Schema versions, applied in order; the database remembers the last one in user_version. */
const MIGRATIONS = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     dedupe_key TEXT UNIQUE,
     concurrency_key TEXT,
     routine TEXT NOT NULL,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     installation_id INTEGER NOT NULL,
     trigger_kind TEXT NOT NULL,
     one_off INTEGER NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     outcome TEXT,
     summary TEXT,
     usage TEXT,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     check_run_id INTEGER,
     request TEXT NOT NULL
   );
   -- Covering indexes for the cap counts, which run on every admission.
   CREATE INDEX runs_installation_created ON runs (installation_id, created_at, status, trigger_kind, one_off);
   CREATE INDEX runs_routine_created ON runs (owner, repo, routine, created_at, status, trigger_kind);
   CREATE INDEX runs_status ON runs (status, created_at);
   CREATE INDEX runs_concurrency ON runs (concurrency_key, status);
   CREATE TABLE events (
     run_id TEXT NOT NULL REFERENCES runs (id),
     seq INTEGER NOT NULL,
     at INTEGER NOT NULL,
     kind TEXT NOT NULL,
     data TEXT NOT NULL,
     PRIMARY KEY (run_id, seq)
   );
   CREATE TABLE api_tokens (
     trigger_id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     routine TEXT NOT NULL,
     token_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE one_offs (
     key TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE TABLE disabled_installations (
     installation_id INTEGER PRIMARY KEY,
     at INTEGER NOT NULL
   );`,
  `CREATE TABLE sessions (
     id_hash TEXT PRIMARY KEY,
     data TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX runs_created ON runs (created_at, id);`,
  `ALTER TABLE runs ADD COLUMN stop_reason TEXT;
   ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
   CREATE TABLE run_tokens (
     token TEXT PRIMARY KEY,
     run_id TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `CREATE TABLE webhook_bodies (
     body_hash TEXT PRIMARY KEY,
     delivery_id TEXT NOT NULL,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX webhook_bodies_received ON webhook_bodies (received_at);`,
  // The inbox: verified deliveries wait here until their handlers have run; the delivery id is the dedupe key.
  `CREATE TABLE inbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     delivery_id TEXT NOT NULL UNIQUE,
     event TEXT NOT NULL,
     body TEXT NOT NULL,
     ordering_key TEXT,
     received_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     finished_at INTEGER
   );
   CREATE INDEX inbox_state ON inbox (state, seq);
   CREATE INDEX inbox_finished ON inbox (finished_at);`,
  // 6: check-run states waiting to be published, one row per check run (see github/check-outbox.ts).
  `CREATE TABLE check_outbox (
     key TEXT PRIMARY KEY,
     run_id TEXT,
     installation_id INTEGER NOT NULL,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     head_sha TEXT NOT NULL,
     name TEXT NOT NULL,
     priority INTEGER NOT NULL,
     version INTEGER NOT NULL,
     state TEXT NOT NULL,
     published_version INTEGER NOT NULL DEFAULT 0,
     check_run_id INTEGER,
     creating INTEGER NOT NULL DEFAULT 0,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX check_outbox_pending ON check_outbox (priority, next_attempt_at) WHERE version > published_version;`,
  // 7: API idempotency keys, hashed with their trigger id (see runs/idempotency-keys.ts).
  `CREATE TABLE idempotency_keys (
     key_hash TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     claimed_at INTEGER NOT NULL,
     answer_status INTEGER,
     answer_body TEXT
   );
   CREATE INDEX idempotency_keys_claimed ON idempotency_keys (claimed_at);`,
  // 8: slash commands' reactions and replies waiting to be sent, in order per issue (see github/reply-outbox.ts).
  `CREATE TABLE reply_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL UNIQUE,
     installation_id INTEGER NOT NULL,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     issue_number INTEGER NOT NULL,
     write TEXT NOT NULL,
     recorded_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     creating INTEGER NOT NULL DEFAULT 0,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     done_at INTEGER
   );
   CREATE INDEX reply_outbox_pending ON reply_outbox (owner, repo, issue_number, seq) WHERE state = 'pending';
   CREATE INDEX reply_outbox_done ON reply_outbox (done_at);`,
  // 9: what each run's model calls cost, in dollars, added to as they are made; NULL when the model's price is unknown.
  `ALTER TABLE runs ADD COLUMN cost_usd REAL;`,
  // 10: each routine's live status comment on each pull request, its state and newest text waiting to be published (see github/status-comments.ts).
  `CREATE TABLE status_comments (
     key TEXT PRIMARY KEY,
     installation_id INTEGER NOT NULL,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     issue_number INTEGER NOT NULL,
     state TEXT NOT NULL,
     body TEXT NOT NULL,
     version INTEGER NOT NULL,
     published_version INTEGER NOT NULL DEFAULT 0,
     comment_id INTEGER,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX status_comments_pending ON status_comments (next_attempt_at) WHERE version > published_version;`,
  // 11: who runs a running run, and until when unless renewed (see RunLease).
  `ALTER TABLE runs ADD COLUMN lease_owner TEXT;
   ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;`,
  // 12: claims walk the queue installation by installation, oldest first, and count what each runs (see #claim).
  `CREATE INDEX runs_claim ON runs (status, installation_id, created_at);`,
  // 13: who works on an item of the inbox or an outbox, and until when unless renewed (see ItemClaim);
  // an index to find the pending deliveries ahead of one with the same ordering key; the inbox's look
  // at pending deliveries reads an index alone, not the rows, whose columns after the body are
  // reached through all of its pages.
  `ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
   ALTER TABLE inbox ADD COLUMN claimed_until INTEGER;
   CREATE INDEX inbox_ordering ON inbox (ordering_key, seq) WHERE state = 'pending';
   CREATE INDEX inbox_pending ON inbox (state, seq, delivery_id, ordering_key, attempts, claimed_until);
   ALTER TABLE check_outbox ADD COLUMN claimed_by TEXT;
   ALTER TABLE check_outbox ADD COLUMN claimed_until INTEGER;
   ALTER TABLE reply_outbox ADD COLUMN claimed_by TEXT;
   ALTER TABLE reply_outbox ADD COLUMN claimed_until INTEGER;
   ALTER TABLE status_comments ADD COLUMN claimed_by TEXT;
   ALTER TABLE status_comments ADD COLUMN claimed_until INTEGER;`,
  // 14: the findings routines posted on pull requests and what became of them (see github/finding-signals.ts);
  // a signal is NULL while it is not known.
  `CREATE TABLE findings (
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     comment_id INTEGER NOT NULL,
     pull_number INTEGER NOT NULL,
     installation_id INTEGER NOT NULL,
     routine TEXT NOT NULL,
     path TEXT NOT NULL,
     side TEXT NOT NULL,
     start_line INTEGER NOT NULL,
     end_line INTEGER NOT NULL,
     head_sha TEXT NOT NULL,
     posted_at INTEGER NOT NULL,
     resolved INTEGER,
     lines_changed INTEGER,
     thumbs_up INTEGER,
     thumbs_down INTEGER,
     merged_at INTEGER,
     PRIMARY KEY (owner, repo, comment_id)
   );
   CREATE INDEX findings_pull ON findings (owner, repo, pull_number);
   CREATE INDEX findings_routine ON findings (owner, repo, routine, merged_at);`,
  // 15: deliveries' bodies in a table of their own. SQLite writes a row whole at each change, so a
  // delivery's start and finish rewrote its body (tens of kB) twice; now they rewrite a small row.
  `CREATE TABLE inbox_bodies (
     seq INTEGER PRIMARY KEY REFERENCES inbox (seq) ON DELETE CASCADE,
     body TEXT NOT NULL
   );
   INSERT INTO inbox_bodies (seq, body) SELECT seq, body FROM inbox;
   ALTER TABLE inbox DROP COLUMN body;`,
  // 16: a delivery is acknowledged once it is a row of `received`, with its body: the fewest pages
  // a commit can write before the answer. Its row in the inbox, with the indexes the inbox's queries
  // read, follows in batches (see #index). The inbox keeps each delivery for the replay window, so
  // it holds the body's hash itself (webhook_bodies kept the same rows twice); inbox_state repeated
  // the start of inbox_pending; inbox_finished needs only finished deliveries. (The hashes are
  // copied by a join: a subquery per row would scan webhook_bodies once for each delivery.)
  `CREATE TABLE received (
     seq INTEGER PRIMARY KEY,
     delivery_id TEXT NOT NULL,
     event TEXT NOT NULL,
     ordering_key TEXT,
     received_at INTEGER NOT NULL,
     body_hash TEXT,
     body TEXT NOT NULL
   );
   ALTER TABLE inbox ADD COLUMN body_hash TEXT;
   UPDATE inbox SET body_hash = webhook_bodies.body_hash FROM webhook_bodies WHERE webhook_bodies.delivery_id = inbox.delivery_id;
   INSERT INTO received (seq, delivery_id, event, ordering_key, received_at, body_hash, body)
     SELECT seq, delivery_id, event, ordering_key, received_at, body_hash, body FROM inbox JOIN inbox_bodies USING (seq);
   DROP TABLE inbox_bodies;
   DROP TABLE webhook_bodies;
   DROP INDEX inbox_state;
   DROP INDEX inbox_finished;
   CREATE INDEX inbox_finished ON inbox (finished_at) WHERE finished_at IS NOT NULL;
   CREATE INDEX inbox_body_hash ON inbox (body_hash) WHERE body_hash IS NOT NULL;
   CREATE TRIGGER inbox_forgotten AFTER DELETE ON inbox BEGIN DELETE FROM received WHERE seq = old.seq; END;`,
];

interface FindingRow {
  owner: string;
  repo: string;
  comment_id: number;
  pull_number: number;
  installation_id: number;
  routine: string;
  path: string;
  side: "LEFT" | "RIGHT";
  start_line: number;
  end_line: number;
  head_sha: string;
  posted_at: number;
  resolved: number | null;
  lines_changed: number | null;
  thumbs_up: number | null;
  thumbs_down: number | null;
  merged_at: number | null;
}

const toFinding = (row: FindingRow): StoredFinding => ({
  repository: { owner: row.owner, repo: row.repo },
  installationId: row.installation_id,
  pullNumber: row.pull_number,
  routine: row.routine,
  commentId: row.comment_id,
  path: row.path,
  side: row.side,
  startLine: row.start_line,
  endLine: row.end_line,
  headSha: row.head_sha,
  postedAt: new Date(row.posted_at),
  ...(row.resolved === null ? {} : { resolved: row.resolved === 1 }),
  ...(row.lines_changed === null ? {} : { linesChanged: row.lines_changed === 1 }),
  ...(row.thumbs_up === null ? {} : { thumbsUp: row.thumbs_up }),
  ...(row.thumbs_down === null ? {} : { thumbsDown: row.thumbs_down }),
  ...(row.merged_at === null ? {} : { mergedAt: new Date(row.merged_at) }),
});

interface RunRow {
  id: string;
  status: RunStatus;
  reason: string | null;
  outcome: RunRecord["outcome"] | null;
  summary: string | null;
  usage: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  check_run_id: number | null;
  stop_reason: string | null;
  attempt: number;
  cost_usd: number | null;
  request: string;
}

const RUN_COLUMNS = "id, status, reason, outcome, summary, usage, created_at, started_at, finished_at, check_run_id, stop_reason, attempt, cost_usd, request";

function toRecord(row: RunRow): RunRecord {
  return {
    ...(JSON.parse(row.request) as Omit<RunRecord, "id" | "status" | "createdAt">),
    id: row.id,
    status: row.status,
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.outcome === null ? {} : { outcome: row.outcome }),
    ...(row.summary === null ? {} : { summary: row.summary }),
    ...(row.usage === null ? {} : { usage: JSON.parse(row.usage) }),
    createdAt: new Date(row.created_at),
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
    ...(row.check_run_id === null ? {} : { checkRunId: row.check_run_id }),
    ...(row.stop_reason === null ? {} : { stopReason: row.stop_reason }),
    ...(row.attempt > 1 ? { attempt: row.attempt } : {}),
    ...(row.cost_usd === null ? {} : { costUsd: row.cost_usd }),
  };
}

interface StatusCommentRow {
  key: string;
  installation_id: number;
  owner: string;
  repo: string;
  issue_number: number;
  state: string;
  body: string;
  version: number;
  comment_id: number | null;
  attempts: number;
}

const toStatusComment = (row: StatusCommentRow): StatusCommentRecord => ({
  key: row.key,
  installationId: row.installation_id,
  repository: { owner: row.owner, repo: row.repo },
  issueNumber: row.issue_number,
  state: row.state,
  body: row.body,
  version: row.version,
});

interface InboxRow {
  delivery_id: string;
  event: string;
  body: string;
  ordering_key: string | null;
  received_at: number;
  attempts: number;
  state: InboxState;
  error: string | null;
}

const toDelivery = (row: InboxRow): InboxDelivery => ({
  id: row.delivery_id,
  name: row.event,
  body: row.body,
  ...(row.ordering_key === null ? {} : { orderingKey: row.ordering_key }),
  receivedAt: new Date(row.received_at),
  attempts: row.attempts,
  state: row.state,
  ...(row.error === null ? {} : { error: row.error }),
});

/** No earlier delivery of its ordering key is still pending: those of one key go one at a time, in order of arrival. */
const FIRST_OF_ITS_KEY = `(delivery.ordering_key IS NULL OR NOT EXISTS (
  SELECT 1 FROM inbox AS earlier WHERE earlier.state = 'pending' AND earlier.ordering_key = delivery.ordering_key AND earlier.seq < delivery.seq))`;

/** Each queue's table and the column that names its items. */
const CLAIM_TABLES: Record<ClaimQueue, { table: string; key: string }> = {
  inbox: { table: "inbox", key: "delivery_id" },
  checks: { table: "check_outbox", key: "key" },
  replies: { table: "reply_outbox", key: "key" },
  status_comments: { table: "status_comments", key: "key" },
};

/** Not claimed, or the claim expired by the time in @now. */
const UNCLAIMED = "(claimed_until IS NULL OR claimed_until <= @now)";

interface CheckRow {
  key: string;
  run_id: string | null;
  installation_id: number;
  owner: string;
  repo: string;
  head_sha: string;
  name: string;
  priority: number;
  version: number;
  state: string;
  check_run_id: number | null;
  creating: number;
  attempts: number;
}

/** A state newer than the one published, whose retry (if any) is due by @now. */
const CHECK_DUE = "version > published_version AND next_attempt_at <= @now";
const CHECK_ORDER = "priority, next_attempt_at, rowid";

const toPendingCheck = (row: CheckRow): PendingCheck => ({
  key: row.key,
  ...(row.run_id === null ? {} : { runId: row.run_id }),
  installationId: row.installation_id,
  repository: { owner: row.owner, repo: row.repo },
  headSha: row.head_sha,
  name: row.name,
  priority: row.priority,
  version: row.version,
  state: JSON.parse(row.state) as CheckState,
  ...(row.check_run_id === null ? {} : { checkRunId: row.check_run_id }),
  creating: row.creating === 1,
  attempts: row.attempts,
});

interface ReplyRow {
  key: string;
  installation_id: number;
  owner: string;
  repo: string;
  issue_number: number;
  write: string;
  creating: number;
  attempts: number;
}

/** Due by @now, and the first pending reply on its issue: a later one waits for those before it. */
const REPLY_DUE = `state = 'pending' AND next_attempt_at <= @now
  AND seq = (SELECT min(seq) FROM reply_outbox AS earlier WHERE earlier.state = 'pending' AND earlier.owner = reply.owner AND earlier.repo = reply.repo AND earlier.issue_number = reply.issue_number)`;

const toPendingReply = (row: ReplyRow): PendingReply => ({
  key: row.key,
  installationId: row.installation_id,
  repository: { owner: row.owner, repo: row.repo },
  issueNumber: row.issue_number,
  write: JSON.parse(row.write) as ReplyWrite,
  creating: row.creating === 1,
  attempts: row.attempts,
});

/** Newer text than the one published, whose retry (if any) is due by @now. */
const STATUS_COMMENT_DUE = "version > published_version AND next_attempt_at <= @now";

const toPendingStatusComment = (row: StatusCommentRow): PendingStatusComment => ({
  ...toStatusComment(row),
  ...(row.comment_id === null ? {} : { commentId: row.comment_id }),
  attempts: row.attempts,
});

interface TokenRow {
  trigger_id: string;
  owner: string;
  repo: string;
  routine: string;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

const toToken = (row: TokenRow): ApiToken => ({
  triggerId: row.trigger_id,
  repository: { owner: row.owner, repo: row.repo },
  routine: row.routine,
  tokenHash: row.token_hash,
  createdAt: new Date(row.created_at),
  ...(row.revoked_at === null ? {} : { revokedAt: new Date(row.revoked_at) }),
});

export class SqliteStore implements RunStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Received deliveries without their inbox row yet (see #receive), and their bodies' hashes. */
  readonly #unindexed = new Set<string>();
  readonly #unindexedBodies = new Map<string, { id: string; receivedAt: number }>();
  #indexTimer: NodeJS.Timeout | undefined;
  readonly #onError: ((error: Error) => void) | undefined;

  /** Prepared once per distinct SQL text. */
  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /** The last admission of each installation, which the next one waits for. */
  readonly #admissions = new Map<number, Promise<unknown>>();
  readonly #checkpointer: Checkpointer | undefined;

  /**
   * Opens (creating when needed) the database at `file`, or an in-memory one for ":memory:". A
   * server's store checkpoints off the event loop (see wal-checkpointer.ts).
   */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#onError = options.onError;
    this.#db.pragma("journal_mode = WAL");
    // better-sqlite3's own default in WAL mode, said here: a commit survives a crash of the process
    // (the write-ahead log is written before it returns), and the disk is synced around checkpoints,
    // not at each commit, so the last commits before a power loss may be lost.
    this.#db.pragma("synchronous = NORMAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
    this.#migrate();
    // Deliveries a stopped process acknowledged but had not indexed yet.
    this.#index(true);
    if (options.checkpointOffThread && file !== ":memory:") {
      this.#checkpointer = startCheckpointer(file, CHECKPOINT_INTERVAL_MS, (error) => {
        // Checkpoints come back to the writes themselves, as SQLite does by default.
        if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
        options.onError?.(error);
      });
      // The log starts over only when a write finds it all copied back, which a steady stream of
      // writes never lets the thread see; so the writer checkpoints itself (waiting for the disk)
      // once the log passes 400 MB, and a log that has grown is cut back to 64 MB when it starts over.
      this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES * 100}`);
      this.#db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    }
  }

  #migrate(): void {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`the database is at schema version ${version}, newer than this server's ${MIGRATIONS.length}; upgrade the server`);
    }
    for (let next = version; next < MIGRATIONS.length; next++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[next]!);
        this.#db.pragma(`user_version = ${next + 1}`);
      })();
    }
  }

  async admitting<T>(installationId: number, admit: (store: RunStore) => Promise<T>): Promise<T> {
    // One process owns the file, so admissions need only wait for each other here.
    const before = this.#admissions.get(installationId) ?? Promise.resolve();
    const result = before.catch(() => undefined).then(() => admit(this));
    const settled = result.catch(() => undefined);
    this.#admissions.set(installationId, settled);
    void settled.then(() => {
      if (this.#admissions.get(installationId) === settled) this.#admissions.delete(installationId);
    });
    return result;
  }

  async insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult> {
    const { id, status, reason, outcome, summary, usage, createdAt, startedAt, finishedAt, checkRunId, stopReason, attempt, costUsd, ...request } = run;
    const oneOff = run.trigger.kind === "schedule" && run.trigger.oneOff;
    const inserted = this.#sql(
        `INSERT INTO runs (id, dedupe_key, concurrency_key, routine, owner, repo, installation_id, trigger_kind, one_off, status, reason, outcome, summary, usage, created_at, started_at, finished_at, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
      )
      .run(
        id, dedupeKey ?? null, concurrencyKey(run) ?? null, run.routine, run.repository.owner, run.repository.repo, run.installationId,
        run.trigger.kind, oneOff ? 1 : 0, status, reason ?? null, outcome ?? null, summary ?? null, usage ? JSON.stringify(usage) : null,
        createdAt.getTime(), startedAt?.getTime() ?? null, finishedAt?.getTime() ?? null, JSON.stringify(request),
      );
    if (inserted.changes === 1) return { inserted: true };
    const existing = this.#sql("SELECT id FROM runs WHERE dedupe_key = ?").get(dedupeKey) as { id: string };
    return { inserted: false, existingId: existing.id };
  }

  async acceptDelivery(delivery: InboxEntry, bodyHash: string, windowMs: number): Promise<DeliveryAcceptance> {
    const since = delivery.receivedAt.getTime() - windowMs;
    const unindexed = this.#unindexedBodies.get(bodyHash);
    const earlier = unindexed && unindexed.receivedAt >= since ? unindexed
      : (this.#sql("SELECT delivery_id AS id FROM inbox WHERE body_hash = ? AND received_at >= ? LIMIT 1").get(bodyHash, since) as { id: string } | undefined);
    if (earlier && earlier.id !== delivery.id) return { replayOf: earlier.id };
    return { queued: this.#receive(delivery, bodyHash) };
  }

  async enqueueDelivery(delivery: InboxEntry): Promise<boolean> {
    const queued = this.#receive(delivery);
    this.#index();
    return queued;
  }

  /**
   * Writes a delivery not seen before to `received`, one row in one commit, and leaves its inbox
   * row for #index. The checks and the write run without a pause, and one process owns the file
   * (data-dir-lock.ts), so nothing else writes between them.
   */
  #receive({ id, name, body, orderingKey, receivedAt }: InboxEntry, bodyHash?: string): boolean {
    if (this.#unindexed.has(id) || this.#sql("SELECT 1 FROM inbox WHERE delivery_id = ?").get(id)) return false;
    this.#sql("INSERT INTO received (delivery_id, event, ordering_key, received_at, body_hash, body) VALUES (?, ?, ?, ?, ?, ?)")
      .run(id, name, orderingKey ?? null, receivedAt.getTime(), bodyHash ?? null, body);
    this.#unindexed.add(id);
    if (bodyHash !== undefined) this.#unindexedBodies.set(bodyHash, { id, receivedAt: receivedAt.getTime() });
    this.#indexTimer ??= setTimeout(() => {
      try {
        this.#index();
      } catch (error) {
        // They stay received; the next look at the inbox tries again, and fails to its caller.
        this.#onError?.(new Error(`received webhook deliveries could not be added to the inbox yet: ${(error as Error).message}`, { cause: error }));
      }
    }, INDEX_AFTER_MS).unref();
    return true;
  }

  /**
   * Gives every received delivery its inbox row, in one commit: after a few milliseconds, and before
   * anything reads the inbox. With `all`, also those a stopped process left (see the constructor).
   */
  #index(all = false): void {
    clearTimeout(this.#indexTimer);
    this.#indexTimer = undefined;
    if (!all && this.#unindexed.size === 0) return;
    this.#sql(
      `INSERT INTO inbox (seq, delivery_id, event, ordering_key, received_at, body_hash)
       SELECT seq, delivery_id, event, ordering_key, received_at, body_hash FROM received
       WHERE seq > (SELECT coalesce(max(seq), 0) FROM inbox) ORDER BY seq ON CONFLICT (delivery_id) DO NOTHING`,
    ).run();
    this.#unindexed.clear();
    this.#unindexedBodies.clear();
  }

  async pendingDeliveries(limit: number, now: Date): Promise<PendingDelivery[]> {
    this.#index();
    const rows = this.#sql(
        `SELECT delivery_id, ordering_key, attempts FROM inbox AS delivery WHERE state = 'pending' AND ${UNCLAIMED} AND ${FIRST_OF_ITS_KEY} ORDER BY seq LIMIT @limit`,
      )
      .all({ now: now.getTime(), limit }) as Array<{ delivery_id: string; ordering_key: string | null; attempts: number }>;
    return rows.map((row) => ({ id: row.delivery_id, ...(row.ordering_key === null ? {} : { orderingKey: row.ordering_key }), attempts: row.attempts }));
  }

  async countDeliveries(): Promise<Array<{ state: UndoneState; count: number }>> {
    this.#index();
    return this.#sql(`SELECT state, count(*) AS count FROM inbox WHERE state IN ('failed', 'pending') GROUP BY state ORDER BY state`).all() as Array<{ state: UndoneState; count: number }>;
  }

  async startDelivery(id: string, { owner, expiresAt }: ItemClaim, now: Date): Promise<InboxDelivery | undefined> {
    this.#index();
    const row = this.#sql(
        `UPDATE inbox AS delivery SET attempts = attempts + 1, claimed_by = @owner, claimed_until = @until
         WHERE delivery_id = @id AND state = 'pending' AND (${UNCLAIMED} OR claimed_by = @owner) AND ${FIRST_OF_ITS_KEY}
         RETURNING seq, delivery_id, event, ordering_key, received_at, attempts, state, error`,
      )
      .get({ id, owner, until: expiresAt.getTime(), now: now.getTime() }) as (Omit<InboxRow, "body"> & { seq: number }) | undefined;
    if (!row) return undefined;
    const { body } = this.#sql("SELECT body FROM received WHERE seq = ?").get(row.seq) as { body: string };
    return toDelivery({ ...row, body });
  }

  async finishDelivery(id: string, at: Date, error?: string): Promise<void> {
    this.#sql("UPDATE inbox SET state = ?, error = ?, finished_at = ?, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = ? AND state = 'pending'").run(error === undefined ? "done" : "failed", error ?? null, at.getTime(), id);
  }

  async getDelivery(id: string): Promise<InboxDelivery | undefined> {
    this.#index();
    const row = this.#sql(
      "SELECT inbox.delivery_id, inbox.event, body, inbox.ordering_key, inbox.received_at, attempts, state, error FROM inbox JOIN received USING (seq) WHERE inbox.delivery_id = ?",
    ).get(id) as InboxRow | undefined;
    return row && toDelivery(row);
  }

  async pruneDeliveries(finishedBefore: Date): Promise<number> {
    this.#index();
    return this.#sql("DELETE FROM inbox WHERE state != 'pending' AND finished_at < ?").run(finishedBefore.getTime()).changes;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#sql(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row && toRecord(row);
  }

  async listRuns({ limit, repositories, repository, routine, status, outcome, triggerKind, before }: RunListQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    const filter = (clause: string, ...values: Array<string | number>) => {
      where.push(clause);
      params.push(...values);
    };
    if (repositories) {
      // Unary + keeps the planner off the repository index, so the newest runs are read in
      // created_at order and the scan stops at the page's end instead of sorting every run of every repository.
      filter(`(${repositories.map(() => "(+owner = ? AND +repo = ?)").join(" OR ") || "0"})`, ...repositories.flatMap((r) => [r.owner, r.repo]));
    }
    if (repository) filter("owner = ? AND repo = ?", repository.owner, repository.repo);
    if (routine) filter("routine = ?", routine);
    if (status) filter("status = ?", status);
    if (outcome) filter("outcome = ?", outcome);
    if (triggerKind) filter("trigger_kind = ?", triggerKind);
    if (before) filter("(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?)", before);
    const rows = this.#sql(`SELECT ${RUN_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`)
      .all(...params, limit) as RunRow[];
    return rows.map(toRecord);
  }

  async countRecentRuns({ since, installationId, triggerKinds, routine, withoutOneOff, atMost }: RecentRunsQuery): Promise<number> {
    const where = ["installation_id = ?", "created_at >= ?", "status != 'rejected'"];
    const params: Array<string | number> = [installationId, since.getTime()];
    if (triggerKinds) {
      where.push(`trigger_kind IN (${triggerKinds.map(() => "?").join(", ")})`);
      params.push(...triggerKinds);
    }
    if (routine) {
      where.push("routine = ? AND owner = ? AND repo = ?");
      params.push(routine.name, routine.repository.owner, routine.repository.repo);
    }
    if (withoutOneOff) where.push("one_off = 0");
    // -1: no limit.
    params.push(atMost ?? -1);
    const row = this.#sql(`SELECT count(*) AS count FROM (SELECT 1 FROM runs WHERE ${where.join(" AND ")} LIMIT ?)`).get(...params) as { count: number };
    return row.count;
  }

  async queuedRunIds(key: string): Promise<string[]> {
    const rows = this.#sql("SELECT id FROM runs WHERE concurrency_key = ? AND status = 'queued' ORDER BY created_at").all(key) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /**
   * The queue's head, read through runs_claim without visiting the whole queue: the installations
   * with queued runs, one index step each; for each, its oldest run whose concurrency key is not
   * running (the runs it steps over are only those waiting behind a running run of their key) and
   * how many it runs; then the head of the installation running fewest, the oldest on a tie.
   */
  readonly #claim = (now: Date, lease: RunLease): RunRecord | undefined => {
    const row = this.#sql(
        `WITH RECURSIVE installations (id) AS (
           SELECT (SELECT min(installation_id) FROM runs WHERE status = 'queued')
           UNION ALL
           SELECT (SELECT min(installation_id) FROM runs WHERE status = 'queued' AND installation_id > installations.id)
           FROM installations WHERE installations.id IS NOT NULL
         ),
         heads (running, head) AS (
           SELECT (SELECT count(*) FROM runs r WHERE r.status = 'running' AND r.installation_id = i.id),
                  (SELECT q.rowid FROM runs q
                   WHERE q.status = 'queued' AND q.installation_id = i.id
                     AND (q.concurrency_key IS NULL OR NOT EXISTS (
                       SELECT 1 FROM runs r WHERE r.concurrency_key = q.concurrency_key AND r.status = 'running'))
                   ORDER BY q.created_at, q.rowid LIMIT 1)
           FROM installations i WHERE i.id IS NOT NULL
         )
         SELECT ${RUN_COLUMNS} FROM heads JOIN runs ON runs.rowid = heads.head
         ORDER BY heads.running, runs.created_at, runs.rowid
         LIMIT 1`,
      )
      .get() as RunRow | undefined;
    if (!row) return undefined;
    this.#sql("UPDATE runs SET status = 'running', started_at = ?, lease_owner = ?, lease_expires_at = ? WHERE id = ?").run(now.getTime(), lease.owner, lease.expiresAt.getTime(), row.id);
    return { ...toRecord(row), status: "running", startedAt: now };
  };

  async claimNextRun(now: Date, lease: RunLease): Promise<RunRecord | undefined> {
    return this.#db.transaction(this.#claim).immediate(now, lease);
  }

  async renewLeases(owner: string, runIds: readonly string[], expiresAt: Date): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows = this.#sql(
        `UPDATE runs SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'running' AND id IN (SELECT value FROM json_each(?)) RETURNING id`,
      )
      .all(expiresAt.getTime(), owner, JSON.stringify(runIds)) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  async expiredRuns(now: Date): Promise<RunRecord[]> {
    const rows = this.#sql(`SELECT ${RUN_COLUMNS} FROM runs WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY created_at`).all(now.getTime()) as RunRow[];
    return rows.map(toRecord);
  }

  async takeExpiredLease(id: string, now: Date, lease: RunLease): Promise<boolean> {
    return this.#sql("UPDATE runs SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)")
      .run(lease.owner, lease.expiresAt.getTime(), id, now.getTime()).changes === 1;
  }

  async transition(id: string, from: readonly RunStatus[], patch: RunPatch, owner?: string): Promise<boolean> {
    const columns: Record<keyof RunPatch, string> = {
      status: "status", reason: "reason", outcome: "outcome", summary: "summary", usage: "usage", startedAt: "started_at", finishedAt: "finished_at", stopReason: "stop_reason",
    };
    const entries = Object.entries(patch).filter(([, value]) => value !== undefined) as Array<[keyof RunPatch, unknown]>;
    const values = entries.map(([key, value]) =>
      value instanceof Date ? value.getTime() : key === "usage" ? JSON.stringify(value) : typeof value === "string" ? storableText(value) : value,
    );
    const set = entries.map(([key]) => `${columns[key]} = ?`).join(", ");
    const held = owner === undefined ? "" : " AND lease_owner = ?";
    const result = this.#sql(`UPDATE runs SET ${set} WHERE id = ? AND status IN (${from.map(() => "?").join(", ")})${held}`)
      .run(...(values as Array<string | number>), id, ...from, ...(owner === undefined ? [] : [owner]));
    return result.changes === 1;
  }

  async addRunCost(id: string, costUsd: number): Promise<void> {
    this.#sql("UPDATE runs SET cost_usd = coalesce(cost_usd, 0) + ? WHERE id = ?").run(costUsd, id);
  }

  async routineSpend({ repository, routine, since }: RoutineCostQuery): Promise<{ costUsd: number; exhausted: boolean }> {
    const row = this.#sql(
        `SELECT coalesce(sum(cost_usd), 0) AS cost, coalesce(max(stop_reason = 'daily_budget'), 0) AS exhausted
         FROM runs WHERE owner = ? AND repo = ? AND routine = ? AND created_at >= ?`,
      )
      .get(repository.owner, repository.repo, routine, since.getTime()) as { cost: number; exhausted: number };
    return { costUsd: row.cost, exhausted: row.exhausted === 1 };
  }

  async lastReviewedCommit(concurrencyKey: string, exceptRunId: string): Promise<string | undefined> {
    const rows = this.#sql(
        `SELECT request FROM runs WHERE concurrency_key = ? AND status = 'completed' AND outcome = 'succeeded' AND id <> ?
         ORDER BY finished_at DESC, created_at DESC LIMIT ?`,
      )
      .all(concurrencyKey, exceptRunId, REVIEWED_LOOKBACK) as Array<{ request: string }>;
    return rows.map((row) => reviewedCommitOf(row.request)).find((sha) => sha !== undefined);
  }

  async runningRuns(): Promise<RunRecord[]> {
    return (this.#sql(`SELECT ${RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY created_at`).all() as RunRow[]).map(toRecord);
  }

  async requeue(id: string, attempt: number, owner?: string): Promise<boolean> {
    const held = owner === undefined ? "" : " AND lease_owner = ?";
    return this.#sql(`UPDATE runs SET status = 'queued', started_at = NULL, attempt = ?, lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND status = 'running'${held}`)
      .run(attempt, id, ...(owner === undefined ? [] : [owner])).changes === 1;
  }

  async recordRunToken({ token, runId, expiresAt }: RunToken): Promise<void> {
    this.#sql("INSERT OR REPLACE INTO run_tokens (token, run_id, expires_at) VALUES (?, ?, ?)").run(token, runId, expiresAt.getTime());
  }

  async forgetRunToken(token: string): Promise<void> {
    this.#sql("DELETE FROM run_tokens WHERE token = ?").run(token);
  }

  async liveRunTokens(now: Date): Promise<RunToken[]> {
    // Expired ones need no revoking: they go now.
    this.#sql("DELETE FROM run_tokens WHERE expires_at <= ?").run(now.getTime());
    const rows = this.#sql(
        "SELECT token, run_id, expires_at FROM run_tokens t WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.run_id AND r.status = 'running')",
      )
      .all() as Array<{ token: string; run_id: string; expires_at: number }>;
    return rows.map((row) => ({ token: row.token, runId: row.run_id, expiresAt: new Date(row.expires_at) }));
  }

  async runTokens(runId: string): Promise<RunToken[]> {
    const rows = this.#sql("SELECT token, run_id, expires_at FROM run_tokens WHERE run_id = ?").all(runId) as Array<{ token: string; run_id: string; expires_at: number }>;
    return rows.map((row) => ({ token: row.token, runId: row.run_id, expiresAt: new Date(row.expires_at) }));
  }

  async countByState(): Promise<Array<{ status: RunStatus; outcome: RunOutcome | null; count: number }>> {
    return this.#sql("SELECT status, outcome, count(*) AS count FROM runs GROUP BY status, outcome").all() as Array<{ status: RunStatus; outcome: RunOutcome | null; count: number }>;
  }

  async setCheckRunId(runId: string, checkRunId: number): Promise<void> {
    this.#sql("UPDATE runs SET check_run_id = ? WHERE id = ?").run(checkRunId, runId);
  }

  async recordCheck({ key, runId, installationId, repository, headSha, name, priority, version, state }: CheckEntry): Promise<boolean> {
    const next = version === "next" ? "check_outbox.version + 1" : "excluded.version";
    const result = this.#sql(
        `INSERT INTO check_outbox (key, run_id, installation_id, owner, repo, head_sha, name, priority, version, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET version = ${next}, state = excluded.state
         WHERE ${next} > check_outbox.version`,
      )
      .run(key, runId ?? null, installationId, repository.owner, repository.repo, headSha, name, priority, version === "next" ? 1 : version, JSON.stringify(state));
    return result.changes === 1;
  }

  async pendingChecks(now: Date, limit: number): Promise<PendingCheck[]> {
    const rows = this.#sql(`SELECT * FROM check_outbox WHERE ${CHECK_DUE} ORDER BY ${CHECK_ORDER} LIMIT @limit`).all({ now: now.getTime(), limit }) as CheckRow[];
    return rows.map(toPendingCheck);
  }

  async claimChecks(now: Date, limit: number, claim: ItemClaim): Promise<PendingCheck[]> {
    return this.#claimItems("checks", `SELECT key FROM check_outbox WHERE ${CHECK_DUE} AND ${UNCLAIMED} ORDER BY ${CHECK_ORDER} LIMIT @limit`, now, limit, claim)
      .map((key) => this.#sql("SELECT * FROM check_outbox WHERE key = ?").get(key) as CheckRow)
      .map(toPendingCheck);
  }

  async markCheckCreating(key: string): Promise<void> {
    this.#sql("UPDATE check_outbox SET creating = 1 WHERE key = ?").run(key);
  }

  async markCheckPublished(key: string, version: number, checkRunId: number | undefined): Promise<void> {
    this.#db.transaction(() => {
      const row = this.#sql(
          `UPDATE check_outbox SET published_version = max(published_version, ?), check_run_id = coalesce(?, check_run_id), creating = 0, attempts = 0, next_attempt_at = 0,
             claimed_by = NULL, claimed_until = NULL
           WHERE key = ? RETURNING run_id, check_run_id`,
        )
        .get(version, checkRunId ?? null, key) as { run_id: string | null; check_run_id: number | null } | undefined;
      if (row?.run_id && row.check_run_id !== null) this.#sql("UPDATE runs SET check_run_id = ? WHERE id = ?").run(row.check_run_id, row.run_id);
    })();
  }

  async markCheckFailed(key: string, retryAt: Date): Promise<void> {
    this.#sql("UPDATE check_outbox SET attempts = attempts + 1, next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL WHERE key = ?").run(retryAt.getTime(), key);
  }

  async recordReply({ key, installationId, repository, issueNumber, write }: ReplyEntry, at: Date): Promise<boolean> {
    return this.#sql(
        `INSERT INTO reply_outbox (key, installation_id, owner, repo, issue_number, write, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO NOTHING`,
      )
      .run(key, installationId, repository.owner, repository.repo, issueNumber, JSON.stringify(write), at.getTime()).changes === 1;
  }

  async pendingReplies(now: Date, limit: number): Promise<PendingReply[]> {
    const rows = this.#sql(`SELECT * FROM reply_outbox AS reply WHERE ${REPLY_DUE} ORDER BY seq LIMIT @limit`).all({ now: now.getTime(), limit }) as ReplyRow[];
    return rows.map(toPendingReply);
  }

  async claimReplies(now: Date, limit: number, claim: ItemClaim): Promise<PendingReply[]> {
    return this.#claimItems("replies", `SELECT key FROM reply_outbox AS reply WHERE ${REPLY_DUE} AND ${UNCLAIMED} ORDER BY seq LIMIT @limit`, now, limit, claim)
      .map((key) => this.#sql("SELECT * FROM reply_outbox WHERE key = ?").get(key) as ReplyRow)
      .map(toPendingReply);
  }

  async markReplyCreating(key: string): Promise<void> {
    this.#sql("UPDATE reply_outbox SET creating = 1 WHERE key = ?").run(key);
  }

  async markReplyDone(key: string, at: Date, outcome: "sent" | "abandoned"): Promise<void> {
    this.#sql("UPDATE reply_outbox SET state = ?, creating = 0, done_at = ?, claimed_by = NULL, claimed_until = NULL WHERE key = ?").run(outcome, at.getTime(), key);
  }

  async markReplyFailed(key: string, retryAt: Date): Promise<void> {
    this.#sql("UPDATE reply_outbox SET attempts = attempts + 1, next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL WHERE key = ?").run(retryAt.getTime(), key);
  }

  async pruneReplies(doneBefore: Date): Promise<number> {
    return this.#sql("DELETE FROM reply_outbox WHERE state != 'pending' AND done_at < ?").run(doneBefore.getTime()).changes;
  }

  async statusComment(key: string): Promise<StatusCommentRecord | undefined> {
    const row = this.#sql("SELECT * FROM status_comments WHERE key = ?").get(key) as StatusCommentRow | undefined;
    return row && toStatusComment(row);
  }

  async recordStatusComment({ key, installationId, repository, issueNumber, state, body }: StatusCommentEntry, expected: number): Promise<boolean> {
    if (expected === 0) {
      return this.#sql(
          `INSERT INTO status_comments (key, installation_id, owner, repo, issue_number, state, body, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
           ON CONFLICT (key) DO NOTHING`,
        )
        .run(key, installationId, repository.owner, repository.repo, issueNumber, state, body).changes === 1;
    }
    return this.#sql("UPDATE status_comments SET state = ?, body = ?, version = version + 1 WHERE key = ? AND version = ?").run(state, body, key, expected).changes === 1;
  }

  async pendingStatusComments(now: Date, limit: number): Promise<PendingStatusComment[]> {
    const rows = this.#sql(`SELECT * FROM status_comments WHERE ${STATUS_COMMENT_DUE} ORDER BY next_attempt_at, rowid LIMIT @limit`).all({ now: now.getTime(), limit }) as StatusCommentRow[];
    return rows.map(toPendingStatusComment);
  }

  async claimStatusComments(now: Date, limit: number, claim: ItemClaim): Promise<PendingStatusComment[]> {
    return this.#claimItems("status_comments", `SELECT key FROM status_comments WHERE ${STATUS_COMMENT_DUE} AND ${UNCLAIMED} ORDER BY next_attempt_at, rowid LIMIT @limit`, now, limit, claim)
      .map((key) => this.#sql("SELECT * FROM status_comments WHERE key = ?").get(key) as StatusCommentRow)
      .map(toPendingStatusComment);
  }

  /**
   * Claims the items `select` names (in its order) in one write transaction, taken before it
   * reads: a second process on the file waits for it, then finds them claimed.
   */
  #claimItems(queue: ClaimQueue, select: string, now: Date, limit: number, { owner, expiresAt }: ItemClaim): string[] {
    const { table, key } = CLAIM_TABLES[queue];
    return this.#db
      .transaction(() => {
        const keys = (this.#sql(select).all({ now: now.getTime(), limit }) as Array<{ key: string }>).map((row) => row.key);
        const claim = this.#sql(`UPDATE ${table} SET claimed_by = ?, claimed_until = ? WHERE ${key} = ?`);
        for (const item of keys) claim.run(owner, expiresAt.getTime(), item);
        return keys;
      })
      .immediate();
  }

  async markStatusCommentPublished(key: string, version: number, commentId: number | undefined): Promise<void> {
    this.#sql(
      `UPDATE status_comments SET published_version = max(published_version, ?), comment_id = coalesce(?, comment_id), attempts = 0, next_attempt_at = 0,
       claimed_by = NULL, claimed_until = NULL
       WHERE key = ?`,
    ).run(version, commentId ?? null, key);
  }

  async markStatusCommentFailed(key: string, retryAt: Date): Promise<void> {
    this.#sql("UPDATE status_comments SET attempts = attempts + 1, next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL WHERE key = ?").run(retryAt.getTime(), key);
  }

  async renewClaims(queue: ClaimQueue, owner: string, keys: readonly string[], expiresAt: Date): Promise<string[]> {
    const { table, key } = CLAIM_TABLES[queue];
    const renew = this.#sql(`UPDATE ${table} SET claimed_until = ? WHERE ${key} = ? AND claimed_by = ? AND claimed_until IS NOT NULL`);
    return this.#db.transaction(() => keys.filter((item) => renew.run(expiresAt.getTime(), item, owner).changes === 1))();
  }

  async releaseClaims(queue: ClaimQueue): Promise<number> {
    const { table } = CLAIM_TABLES[queue];
    return this.#sql(`UPDATE ${table} SET claimed_by = NULL, claimed_until = NULL WHERE claimed_until IS NOT NULL`).run().changes;
  }

  async oneOffState(key: string): Promise<"fired" | "missed" | undefined> {
    const row = this.#sql("SELECT state FROM one_offs WHERE key = ?").get(key) as { state: "fired" | "missed" } | undefined;
    return row?.state;
  }

  async recordOneOff(key: string, state: "fired" | "missed", at: Date): Promise<boolean> {
    return this.#sql("INSERT OR IGNORE INTO one_offs (key, state, at) VALUES (?, ?, ?)").run(key, state, at.getTime()).changes === 1;
  }

  async setInstallationDisabled(installationId: number, disabled: boolean): Promise<void> {
    if (disabled) this.#sql("INSERT OR IGNORE INTO disabled_installations (installation_id, at) VALUES (?, ?)").run(installationId, Date.now());
    else this.#sql("DELETE FROM disabled_installations WHERE installation_id = ?").run(installationId);
  }

  async isInstallationDisabled(installationId: number): Promise<boolean> {
    return this.#sql("SELECT 1 FROM disabled_installations WHERE installation_id = ?").get(installationId) !== undefined;
  }

  async disabledInstallations(): Promise<number[]> {
    return (this.#sql("SELECT installation_id FROM disabled_installations").all() as Array<{ installation_id: number }>).map((row) => row.installation_id);
  }

  async cancelQueuedRuns(installationId: number, reason: string, at: Date): Promise<string[]> {
    const rows = this.#sql("UPDATE runs SET status = 'cancelled', reason = ?, finished_at = ? WHERE installation_id = ? AND status = 'queued' RETURNING id").all(reason, at.getTime(), installationId) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  async createApiToken(token: ApiToken): Promise<void> {
    this.#sql("INSERT INTO api_tokens (trigger_id, owner, repo, routine, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(token.triggerId, token.repository.owner, token.repository.repo, token.routine, token.tokenHash, token.createdAt.getTime());
  }

  async getApiToken(triggerId: string): Promise<ApiToken | undefined> {
    const row = this.#sql("SELECT * FROM api_tokens WHERE trigger_id = ?").get(triggerId) as TokenRow | undefined;
    return row && toToken(row);
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return (this.#sql("SELECT * FROM api_tokens ORDER BY created_at").all() as TokenRow[]).map(toToken);
  }

  async revokeApiToken(triggerId: string, at: Date): Promise<boolean> {
    return this.#sql("UPDATE api_tokens SET revoked_at = ? WHERE trigger_id = ? AND revoked_at IS NULL").run(at.getTime(), triggerId).changes === 1;
  }

  async claimIdempotencyKey({ keyHash, fingerprint, claimedAt }: Omit<IdempotencyRecord, "answer">): Promise<IdempotencyRecord | undefined> {
    const at = claimedAt.getTime();
    return this.#db.transaction(() => {
      this.#sql("DELETE FROM idempotency_keys WHERE claimed_at <= ? OR (answer_status IS NULL AND claimed_at <= ?)").run(at - IDEMPOTENCY_WINDOW_MS, at - ABANDONED_CLAIM_MS);
      const row = this.#sql("SELECT fingerprint, claimed_at, answer_status, answer_body FROM idempotency_keys WHERE key_hash = ?").get(keyHash) as
        | { fingerprint: string; claimed_at: number; answer_status: number | null; answer_body: string | null }
        | undefined;
      if (row) {
        const answer = row.answer_status === null ? {} : { answer: { status: row.answer_status, body: row.answer_body ?? "" } };
        return { keyHash, fingerprint: row.fingerprint, claimedAt: new Date(row.claimed_at), ...answer };
      }
      this.#sql("INSERT INTO idempotency_keys (key_hash, fingerprint, claimed_at) VALUES (?, ?, ?)").run(keyHash, fingerprint, at);
      return undefined;
    }).immediate();
  }

  async answerIdempotencyKey(keyHash: string, { status, body }: IdempotentAnswer): Promise<void> {
    this.#sql("UPDATE idempotency_keys SET answer_status = ?, answer_body = ? WHERE key_hash = ?").run(status, body, keyHash);
  }

  async releaseIdempotencyKey(keyHash: string): Promise<void> {
    this.#sql("DELETE FROM idempotency_keys WHERE key_hash = ? AND answer_status IS NULL").run(keyHash);
  }

  async createSession({ idHash, data, createdAt, expiresAt }: StoredSession): Promise<void> {
    // Expired sessions go as new ones come, so the table holds only live ones.
    this.#sql("DELETE FROM sessions WHERE expires_at <= ?").run(createdAt.getTime());
    this.#sql("INSERT INTO sessions (id_hash, data, created_at, expires_at) VALUES (?, ?, ?, ?)").run(idHash, data, createdAt.getTime(), expiresAt.getTime());
  }

  async getSession(idHash: string, now: Date): Promise<StoredSession | undefined> {
    const row = this.#sql("SELECT data, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?").get(idHash, now.getTime()) as
      | { data: string; created_at: number; expires_at: number }
      | undefined;
    return row && { idHash, data: row.data, createdAt: new Date(row.created_at), expiresAt: new Date(row.expires_at) };
  }

  async deleteSession(idHash: string): Promise<void> {
    this.#sql("DELETE FROM sessions WHERE id_hash = ?").run(idHash);
  }

  async appendEvent(runId: string, kind: string, data: unknown, at = new Date()): Promise<number> {
    const row = this.#sql(
        `INSERT INTO events (run_id, seq, at, kind, data)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE run_id = ?), ?, ?, ?) RETURNING seq`,
      )
      .get(runId, runId, at.getTime(), kind, JSON.stringify(data)) as { seq: number };
    return row.seq;
  }

  async listEvents(runId: string, afterSeq = 0): Promise<TranscriptEvent[]> {
    const rows = this.#sql("SELECT seq, at, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq").all(runId, afterSeq) as Array<{
      seq: number;
      at: number;
      kind: string;
      data: string;
    }>;
    return rows.map((row) => ({ seq: row.seq, at: new Date(row.at), kind: row.kind, data: JSON.parse(row.data) }));
  }

  async ranOnPullRequest(repository: RepositoryId, number: number): Promise<boolean> {
    // Keys of runs on the pull request start with this prefix (see concurrencyKey): a range of the key's index.
    const prefix = `${repository.owner}/${repository.repo}#${number}:`.toLowerCase();
    return this.#sql("SELECT 1 FROM runs WHERE concurrency_key >= ? AND concurrency_key < ? LIMIT 1").get(prefix, `${prefix.slice(0, -1)};`) !== undefined;
  }

  async recordFinding(finding: FindingRecord): Promise<boolean> {
    const { repository, installationId, pullNumber, routine, commentId, path, side, startLine, endLine, headSha, postedAt } = finding;
    return (
      this.#sql(
        `INSERT INTO findings (owner, repo, comment_id, pull_number, installation_id, routine, path, side, start_line, end_line, head_sha, posted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(repository.owner, repository.repo, commentId, pullNumber, installationId, routine, path, side, startLine, endLine, headSha, postedAt.getTime()).changes === 1
    );
  }

  async updateFindingSignals(repository: RepositoryId, commentId: number, signals: FindingSignals): Promise<boolean> {
    const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0);
    return (
      this.#sql(
        `UPDATE findings SET resolved = coalesce(?, resolved), lines_changed = coalesce(?, lines_changed),
           thumbs_up = coalesce(?, thumbs_up), thumbs_down = coalesce(?, thumbs_down)
         WHERE owner = ? AND repo = ? AND comment_id = ?`,
      ).run(flag(signals.resolved), flag(signals.linesChanged), signals.thumbsUp ?? null, signals.thumbsDown ?? null, repository.owner, repository.repo, commentId).changes === 1
    );
  }

  async markFindingsMerged(repository: RepositoryId, pullNumber: number, at: Date): Promise<void> {
    this.#sql("UPDATE findings SET merged_at = ? WHERE owner = ? AND repo = ? AND pull_number = ?").run(at.getTime(), repository.owner, repository.repo, pullNumber);
  }

  async pullRequestFindings(repository: RepositoryId, pullNumber: number): Promise<StoredFinding[]> {
    const rows = this.#sql("SELECT * FROM findings WHERE owner = ? AND repo = ? AND pull_number = ? ORDER BY posted_at, comment_id").all(repository.owner, repository.repo, pullNumber) as FindingRow[];
    return rows.map(toFinding);
  }

  async findingStats(repositories: readonly RepositoryId[]): Promise<RoutineFindingStats[]> {
    if (repositories.length === 0) return [];
    const addressed = "(resolved = 1 OR lines_changed = 1)";
    const rows = this.#sql(
      `SELECT owner, repo, routine, count(*) AS findings,
         sum(CASE WHEN ${addressed} THEN 1 ELSE 0 END) AS addressed,
         sum(CASE WHEN ${addressed} THEN 0 WHEN resolved IS NULL OR lines_changed IS NULL THEN 1 ELSE 0 END) AS unknown,
         count(DISTINCT pull_number) AS pull_requests,
         coalesce(sum(thumbs_up), 0) AS thumbs_up, coalesce(sum(thumbs_down), 0) AS thumbs_down
       FROM findings
       WHERE merged_at IS NOT NULL AND (${repositories.map(() => "(owner = ? AND repo = ?)").join(" OR ")})
       GROUP BY owner, repo, routine ORDER BY owner, repo, routine`,
    ).all(...repositories.flatMap((r) => [r.owner, r.repo])) as Array<{
      owner: string; repo: string; routine: string; findings: number; addressed: number; unknown: number; pull_requests: number; thumbs_up: number; thumbs_down: number;
    }>;
    return rows.map((row) => ({
      repository: { owner: row.owner, repo: row.repo },
      routine: row.routine,
      findings: row.findings,
      addressed: row.addressed,
      unknown: row.unknown,
      pullRequests: row.pull_requests,
      thumbsUp: row.thumbs_up,
      thumbsDown: row.thumbs_down,
    }));
  }

  async ping(): Promise<void> {
    this.#sql("SELECT 1").get();
  }

  async close(): Promise<void> {
    try {
      // What is not indexed now is indexed at the next open.
      if (this.#db.open) this.#index();
    } finally {
      await this.#checkpointer?.stop();
      this.#db.close();
    }
  }
}
