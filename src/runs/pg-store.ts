// The shared store: PostgreSQL through a `pg` pool, for several processes on one database
// (DATABASE_URL). Same contract and semantics as the SQLite store; what several processes need on
// top is here too: runs are claimed with FOR UPDATE SKIP LOCKED, at most one run per concurrency
// key runs (a unique index, not a check a second process could race past), and admissions of one
// installation are held one at a time by a transaction-scoped advisory lock.
import pg from "pg";
import type { RepositoryId } from "../run-request.js";
import type { ApiToken } from "./api-tokens.js";
import { redactDatabaseUrl } from "./database-url.js";
import { ABANDONED_CLAIM_MS, IDEMPOTENCY_WINDOW_MS, type IdempotencyRecord, type IdempotentAnswer } from "./idempotency-keys.js";
import {
  concurrencyKey,
  storableText,
  type CheckEntry,
  type CheckState,
  type ClaimQueue,
  type InboxDelivery,
  type DeliveryAcceptance,
  type InboxEntry,
  type InboxState,
  type UndoneState,
  type FindingRecord,
  type FindingSignals,
  type InsertResult,
  type ItemClaim,
  type RoutineFindingStats,
  type StoredFinding,
  type PendingCheck,
  type PendingDelivery,
  type PendingReply,
  type RecentRunsQuery,
  type ReplyEntry,
  type ReplyWrite,
  type RoutineCostQuery,
  type RunLease,
  type RunListQuery,
  type RunOutcome,
  type RunPatch,
  type RunRecord,
  type RunStatus,
  type RunStore,
  type RunToken,
  type PendingStatusComment,
  type StatusCommentEntry,
  type StatusCommentRecord,
  type StoredSession,
  type TranscriptEvent,
  REVIEWED_LOOKBACK,
  reviewedCommitOf,
} from "./store.js";

/**
 * Schema versions, applied in order and recorded in schema_migrations. Version 1 is what the
 * SQLite store reached in its first nine; later changes come as new entries, never edits.
 */
const MIGRATIONS = [
  `CREATE TABLE runs (
     seq bigint GENERATED ALWAYS AS IDENTITY,
     -- Byte order, as in SQLite: pages of runs go by (created_at, id) whatever the server's locale.
     id text COLLATE "C" PRIMARY KEY,
     dedupe_key text UNIQUE,
     concurrency_key text,
     routine text NOT NULL,
     owner text NOT NULL,
     repo text NOT NULL,
     installation_id bigint NOT NULL,
     trigger_kind text NOT NULL,
     one_off boolean NOT NULL,
     status text NOT NULL,
     reason text,
     outcome text,
     summary text,
     usage text,
     created_at timestamptz NOT NULL,
     started_at timestamptz,
     finished_at timestamptz,
     check_run_id bigint,
     stop_reason text,
     attempt integer NOT NULL DEFAULT 1,
     cost_usd double precision,
     -- The transcript's last position: events take the next one under this row's lock.
     last_event_seq integer NOT NULL DEFAULT 0,
     request text NOT NULL
   );
   CREATE INDEX runs_installation_created ON runs (installation_id, created_at);
   CREATE INDEX runs_routine_created ON runs (owner, repo, routine, created_at);
   CREATE INDEX runs_status ON runs (status, created_at);
   CREATE INDEX runs_created ON runs (created_at, id);
   CREATE INDEX runs_concurrency ON runs (concurrency_key, status);
   -- One running run per routine and pull request, kept by the database: two processes claiming
   -- runs of one key at once cannot both start one.
   CREATE UNIQUE INDEX runs_one_running ON runs (concurrency_key) WHERE status = 'running';
   CREATE TABLE events (
     run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
     seq integer NOT NULL,
     at timestamptz NOT NULL,
     kind text NOT NULL,
     data text NOT NULL,
     PRIMARY KEY (run_id, seq)
   );
   CREATE TABLE api_tokens (
     trigger_id text PRIMARY KEY,
     owner text NOT NULL,
     repo text NOT NULL,
     routine text NOT NULL,
     token_hash text NOT NULL,
     created_at timestamptz NOT NULL,
     revoked_at timestamptz
   );
   CREATE TABLE one_offs (
     key text PRIMARY KEY,
     state text NOT NULL,
     at timestamptz NOT NULL
   );
   CREATE TABLE disabled_installations (
     installation_id bigint PRIMARY KEY,
     at timestamptz NOT NULL
   );
   CREATE TABLE sessions (
     id_hash text PRIMARY KEY,
     data text NOT NULL,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL
   );
   CREATE TABLE run_tokens (
     token text PRIMARY KEY,
     run_id text NOT NULL,
     expires_at timestamptz NOT NULL
   );
   CREATE TABLE webhook_bodies (
     body_hash text PRIMARY KEY,
     delivery_id text NOT NULL,
     received_at timestamptz NOT NULL
   );
   CREATE INDEX webhook_bodies_received ON webhook_bodies (received_at);
   CREATE TABLE inbox (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     delivery_id text NOT NULL UNIQUE,
     event text NOT NULL,
     body text NOT NULL,
     ordering_key text,
     received_at timestamptz NOT NULL,
     state text NOT NULL DEFAULT 'pending',
     attempts integer NOT NULL DEFAULT 0,
     error text,
     finished_at timestamptz
   );
   CREATE INDEX inbox_state ON inbox (state, seq);
   CREATE INDEX inbox_finished ON inbox (finished_at);
   CREATE TABLE check_outbox (
     seq bigint GENERATED ALWAYS AS IDENTITY,
     key text PRIMARY KEY,
     run_id text,
     installation_id bigint NOT NULL,
     owner text NOT NULL,
     repo text NOT NULL,
     head_sha text NOT NULL,
     name text NOT NULL,
     priority integer NOT NULL,
     version integer NOT NULL,
     state text NOT NULL,
     published_version integer NOT NULL DEFAULT 0,
     check_run_id bigint,
     creating boolean NOT NULL DEFAULT false,
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL DEFAULT 'epoch'
   );
   CREATE INDEX check_outbox_pending ON check_outbox (priority, next_attempt_at) WHERE version > published_version;
   CREATE TABLE idempotency_keys (
     key_hash text PRIMARY KEY,
     fingerprint text NOT NULL,
     claimed_at timestamptz NOT NULL,
     answer_status integer,
     answer_body text
   );
   CREATE INDEX idempotency_keys_claimed ON idempotency_keys (claimed_at);
   CREATE TABLE reply_outbox (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     key text NOT NULL UNIQUE,
     installation_id bigint NOT NULL,
     owner text NOT NULL,
     repo text NOT NULL,
     issue_number integer NOT NULL,
     write text NOT NULL,
     recorded_at timestamptz NOT NULL,
     state text NOT NULL DEFAULT 'pending',
     creating boolean NOT NULL DEFAULT false,
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL DEFAULT 'epoch',
     done_at timestamptz
   );
   CREATE INDEX reply_outbox_pending ON reply_outbox (owner, repo, issue_number, seq) WHERE state = 'pending';
   CREATE INDEX reply_outbox_done ON reply_outbox (done_at);`,
  // 2: who runs a running run, and until when unless renewed (see RunLease).
  `ALTER TABLE runs ADD COLUMN lease_owner text, ADD COLUMN lease_expires_at timestamptz;
   CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';`,
  // 3: each routine's live status comment on each pull request (see github/status-comments.ts).
  `CREATE TABLE status_comments (
     seq bigint GENERATED ALWAYS AS IDENTITY,
     key text PRIMARY KEY,
     installation_id bigint NOT NULL,
     owner text NOT NULL,
     repo text NOT NULL,
     issue_number integer NOT NULL,
     state text NOT NULL,
     body text NOT NULL,
     version integer NOT NULL,
     published_version integer NOT NULL DEFAULT 0,
     comment_id bigint,
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL DEFAULT 'epoch'
   );
   CREATE INDEX status_comments_pending ON status_comments (next_attempt_at) WHERE version > published_version;`,
  // 4: claims walk the queue installation by installation, oldest first, and count what each runs (see claimNextRun).
  `CREATE INDEX runs_claim ON runs (status, installation_id, created_at, seq);`,
  // 5: who works on an item of the inbox or an outbox, and until when unless renewed (see ItemClaim);
  // an index to find the pending deliveries ahead of one with the same ordering key.
  `ALTER TABLE inbox ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;
   CREATE INDEX inbox_ordering ON inbox (ordering_key, seq) WHERE state = 'pending';
   ALTER TABLE check_outbox ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;
   ALTER TABLE reply_outbox ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;
   ALTER TABLE status_comments ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;`,
  // 6: the findings routines posted on pull requests and what became of them (see github/finding-signals.ts);
  // a signal is NULL while it is not known. The runs' concurrency keys in byte order, for the prefix
  // of one pull request's runs (ranOnPullRequest) whatever the server's locale.
  `CREATE TABLE findings (
     owner text NOT NULL,
     repo text NOT NULL,
     comment_id bigint NOT NULL,
     pull_number integer NOT NULL,
     installation_id bigint NOT NULL,
     routine text NOT NULL,
     path text NOT NULL,
     side text NOT NULL,
     start_line integer NOT NULL,
     end_line integer NOT NULL,
     head_sha text NOT NULL,
     posted_at timestamptz NOT NULL,
     resolved boolean,
     lines_changed boolean,
     thumbs_up integer,
     thumbs_down integer,
     merged_at timestamptz,
     PRIMARY KEY (owner, repo, comment_id)
   );
   CREATE INDEX findings_pull ON findings (owner, repo, pull_number);
   CREATE INDEX findings_routine ON findings (owner, repo, routine, merged_at);
   CREATE INDEX runs_concurrency_bytes ON runs ((concurrency_key COLLATE "C"));`,
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
  posted_at: Date;
  resolved: boolean | null;
  lines_changed: boolean | null;
  thumbs_up: number | null;
  thumbs_down: number | null;
  merged_at: Date | null;
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
  postedAt: row.posted_at,
  ...(row.resolved === null ? {} : { resolved: row.resolved }),
  ...(row.lines_changed === null ? {} : { linesChanged: row.lines_changed }),
  ...(row.thumbs_up === null ? {} : { thumbsUp: row.thumbs_up }),
  ...(row.thumbs_down === null ? {} : { thumbsDown: row.thumbs_down }),
  ...(row.merged_at === null ? {} : { mergedAt: row.merged_at }),
});

/** The store's PostgreSQL schema version: what this server migrates a database to. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** The server stops on it: DATABASE_URL is wrong, or its server out of reach. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/** The database holds a schema this server does not know. */
export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

// bigint columns (ids from GitHub, counts) as numbers: none comes near 2^53.
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const lockKey = (name: string) => `hashtextextended('routines:' || ${name}, 0)`;

interface RunRow {
  id: string;
  status: RunStatus;
  reason: string | null;
  outcome: RunOutcome | null;
  summary: string | null;
  usage: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  check_run_id: number | null;
  stop_reason: string | null;
  attempt: number;
  cost_usd: number | null;
  request: string;
}

const RUN_COLUMNS = ["id", "status", "reason", "outcome", "summary", "usage", "created_at", "started_at", "finished_at", "check_run_id", "stop_reason", "attempt", "cost_usd", "request"];
const runColumns = (table?: string) => RUN_COLUMNS.map((column) => (table ? `${table}.${column}` : column)).join(", ");

function toRecord(row: RunRow): RunRecord {
  return {
    ...(JSON.parse(row.request) as Omit<RunRecord, "id" | "status" | "createdAt">),
    id: row.id,
    status: row.status,
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.outcome === null ? {} : { outcome: row.outcome }),
    ...(row.summary === null ? {} : { summary: row.summary }),
    ...(row.usage === null ? {} : { usage: JSON.parse(row.usage) }),
    createdAt: row.created_at,
    ...(row.started_at === null ? {} : { startedAt: row.started_at }),
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
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

const STATUS_COMMENT_COLUMNS = "key, installation_id, owner, repo, issue_number, state, body, version, comment_id, attempts";

const toStatusComment = (row: StatusCommentRow): StatusCommentRecord => ({
  key: row.key,
  installationId: row.installation_id,
  repository: { owner: row.owner, repo: row.repo },
  issueNumber: row.issue_number,
  state: row.state,
  body: row.body,
  version: row.version,
});

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
  creating: boolean;
  attempts: number;
  next_attempt_at: Date;
  seq: number;
}

const CHECK_COLUMNS = "key, run_id, installation_id, owner, repo, head_sha, name, priority, version, state, check_run_id, creating, attempts, next_attempt_at, seq";
/** A state newer than the one published, whose retry (if any) is due by the time in $1. */
const CHECK_DUE = "version > published_version AND next_attempt_at <= $1";
const CHECK_ORDER = "priority, next_attempt_at, seq";

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
  creating: row.creating,
  attempts: row.attempts,
});

interface ReplyRow {
  key: string;
  installation_id: number;
  owner: string;
  repo: string;
  issue_number: number;
  write: string;
  creating: boolean;
  attempts: number;
  seq: number;
}

const REPLY_COLUMNS = "key, installation_id, owner, repo, issue_number, write, creating, attempts, seq";
/** Due by the time in $1, and the first pending reply on its issue: a later one waits for those before it. */
const REPLY_DUE = `state = 'pending' AND next_attempt_at <= $1
  AND seq = (SELECT min(seq) FROM reply_outbox AS earlier WHERE earlier.state = 'pending' AND earlier.owner = reply.owner AND earlier.repo = reply.repo AND earlier.issue_number = reply.issue_number)`;

const toPendingReply = (row: ReplyRow): PendingReply => ({
  key: row.key,
  installationId: row.installation_id,
  repository: { owner: row.owner, repo: row.repo },
  issueNumber: row.issue_number,
  write: JSON.parse(row.write) as ReplyWrite,
  creating: row.creating,
  attempts: row.attempts,
});

/** Newer text than the one published, whose retry (if any) is due by the time in $1. */
const STATUS_COMMENT_DUE = "version > published_version AND next_attempt_at <= $1";

const toPendingStatusComment = (row: StatusCommentRow): PendingStatusComment => ({
  ...toStatusComment(row),
  ...(row.comment_id === null ? {} : { commentId: row.comment_id }),
  attempts: row.attempts,
});

interface InboxRow {
  delivery_id: string;
  event: string;
  body: string;
  ordering_key: string | null;
  received_at: Date;
  attempts: number;
  state: InboxState;
  error: string | null;
}

const INBOX_COLUMNS = "delivery_id, event, body, ordering_key, received_at, attempts, state, error";

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

/** Not claimed, or the claim expired by the time in $1. */
const UNCLAIMED = "(claimed_until IS NULL OR claimed_until <= $1)";

const toDelivery = (row: InboxRow): InboxDelivery => ({
  id: row.delivery_id,
  name: row.event,
  body: row.body,
  ...(row.ordering_key === null ? {} : { orderingKey: row.ordering_key }),
  receivedAt: row.received_at,
  attempts: row.attempts,
  state: row.state,
  ...(row.error === null ? {} : { error: row.error }),
});

interface TokenRow {
  trigger_id: string;
  owner: string;
  repo: string;
  routine: string;
  token_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

const toToken = (row: TokenRow): ApiToken => ({
  triggerId: row.trigger_id,
  repository: { owner: row.owner, repo: row.repo },
  routine: row.routine,
  tokenHash: row.token_hash,
  createdAt: row.created_at,
  ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
});

const storable = (value: unknown) => (typeof value === "string" ? storableText(value) : value);

/** The pool, or the one connection of a transaction. */
type Connection = pg.Pool | pg.PoolClient;

const UNIQUE_VIOLATION = "23505";
const isUniqueViolation = (error: unknown, constraint: string) =>
  error instanceof Error && (error as { code?: string }).code === UNIQUE_VIOLATION && (error as { constraint?: string }).constraint === constraint;

export interface PgStoreOptions {
  /** Told when an idle connection fails (the server restarted, the network dropped); the pool opens another. */
  onError?: (error: Error) => void;
  /** Most connections the process opens (default 10). */
  maxConnections?: number;
}

export class PgStore implements RunStore {
  readonly #pool: pg.Pool;
  readonly #db: Connection;
  /** Inside a transaction: statements run on its connection, and nested transactions join it. */
  readonly #inTransaction: boolean;

  private constructor(pool: pg.Pool, db: Connection) {
    this.#pool = pool;
    this.#db = db;
    this.#inTransaction = db !== pool;
  }

  /**
   * Connects to the database at `url` and brings its schema up to this server's version. Throws
   * DatabaseUnavailableError, naming DATABASE_URL without its password, when that fails.
   */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const pool = new pg.Pool({ connectionString: url, types: TYPES, max: options.maxConnections ?? 10, connectionTimeoutMillis: 15_000 });
    pool.on("error", (error) => options.onError?.(error));
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      if (error instanceof SchemaTooNewError) throw error;
      throw new DatabaseUnavailableError(`cannot use the PostgreSQL database at ${redactDatabaseUrl(url)} (DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`);
    }
    return new PgStore(pool, pool);
  }

  // Every text goes through storableText: a NUL character would fail the statement.
  async #rows<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.#db.query<Row>(text, values.map(storable))).rows;
  }

  async #count(text: string, values: unknown[] = []): Promise<number> {
    return (await this.#db.query(text, values.map(storable))).rowCount ?? 0;
  }

  /** Runs `work` in one transaction (or in the one this store is already in). */
  async #transaction<T>(work: (store: PgStore) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return work(this);
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(new PgStore(this.#pool, client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Admission's checks (kill switch, caps, the one waiting run per routine and pull request,
   * superseding, delivery dedupe) all read one installation's runs, so admissions are held one at
   * a time per installation by an advisory lock taken in the transaction that records the run.
   * Chosen over SERIALIZABLE: that would fail and retry admissions that merely read the same
   * counts, and a retry would run the checks again for nothing; the lock waits only for another
   * admission of the same installation, which takes milliseconds.
   */
  async admitting<T>(installationId: number, admit: (store: RunStore) => Promise<T>): Promise<T> {
    return this.#transaction(async (store) => {
      await store.#holdAdmissions(installationId);
      return admit(store);
    });
  }

  /** Until the transaction ends, no other admission of the installation goes on. */
  async #holdAdmissions(installationId: number): Promise<void> {
    await this.#rows(`SELECT pg_advisory_xact_lock(${lockKey("'admission:' || $1")})`, [String(installationId)]);
  }

  async insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult> {
    const { id, status, reason, outcome, summary, usage, createdAt, startedAt, finishedAt, checkRunId, stopReason, attempt, costUsd, ...request } = run;
    const oneOff = run.trigger.kind === "schedule" && run.trigger.oneOff;
    const inserted = await this.#count(
      `INSERT INTO runs (id, dedupe_key, concurrency_key, routine, owner, repo, installation_id, trigger_kind, one_off, status, reason, outcome, summary, usage, created_at, started_at, finished_at, request)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (dedupe_key) DO NOTHING`,
      [
        id, dedupeKey ?? null, concurrencyKey(run) ?? null, run.routine, run.repository.owner, run.repository.repo, run.installationId,
        run.trigger.kind, oneOff, status, reason ?? null, outcome ?? null, summary ?? null, usage ? JSON.stringify(usage) : null,
        createdAt, startedAt ?? null, finishedAt ?? null, JSON.stringify(request),
      ],
    );
    if (inserted === 1) return { inserted: true };
    const [existing] = await this.#rows<{ id: string }>("SELECT id FROM runs WHERE dedupe_key = $1", [dedupeKey]);
    // The run that held the key is gone only if it was deleted in between, which nothing does.
    if (!existing) throw new Error(`run ${id} conflicted on a dedupe key that no run holds`);
    return { inserted: false, existingId: existing.id };
  }

  async acceptDelivery(delivery: InboxEntry, bodyHash: string, windowMs: number): Promise<DeliveryAcceptance> {
    const at = delivery.receivedAt;
    return this.#transaction(async (store): Promise<DeliveryAcceptance> => {
      await store.#rows(`SELECT pg_advisory_xact_lock(${lockKey("'body:' || $1")})`, [bodyHash]);
      await store.#count("DELETE FROM webhook_bodies WHERE received_at < $1", [new Date(at.getTime() - windowMs)]);
      const [earlier] = await store.#rows<{ delivery_id: string }>("SELECT delivery_id FROM webhook_bodies WHERE body_hash = $1", [bodyHash]);
      if (earlier && earlier.delivery_id !== delivery.id) return { replayOf: earlier.delivery_id };
      if (!earlier) await store.#count("INSERT INTO webhook_bodies (body_hash, delivery_id, received_at) VALUES ($1, $2, $3)", [bodyHash, delivery.id, at]);
      return { queued: await store.enqueueDelivery(delivery) };
    });
  }

  async enqueueDelivery({ id, name, body, orderingKey, receivedAt }: InboxEntry): Promise<boolean> {
    const inserted = await this.#count(
      "INSERT INTO inbox (delivery_id, event, body, ordering_key, received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id) DO NOTHING",
      [id, name, body, orderingKey ?? null, receivedAt],
    );
    return inserted === 1;
  }

  async pendingDeliveries(limit: number, now: Date): Promise<PendingDelivery[]> {
    const rows = await this.#rows<{ delivery_id: string; ordering_key: string | null; attempts: number }>(
      `SELECT delivery_id, ordering_key, attempts FROM inbox AS delivery
       WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $1) AND ${FIRST_OF_ITS_KEY}
       ORDER BY seq LIMIT $2`,
      [now, limit],
    );
    return rows.map((row) => ({ id: row.delivery_id, ...(row.ordering_key === null ? {} : { orderingKey: row.ordering_key }), attempts: row.attempts }));
  }

  async countDeliveries(): Promise<Array<{ state: UndoneState; count: number }>> {
    return this.#rows(`SELECT state, count(*) AS count FROM inbox WHERE state IN ('failed', 'pending') GROUP BY state ORDER BY state`);
  }

  async startDelivery(id: string, { owner, expiresAt }: ItemClaim, now: Date): Promise<InboxDelivery | undefined> {
    // Two processes starting one delivery: the second waits for the first's row lock, then finds
    // the row claimed and leaves it.
    const [row] = await this.#rows<InboxRow>(
      `UPDATE inbox AS delivery SET attempts = attempts + 1, claimed_by = $2, claimed_until = $3
       WHERE delivery_id = $1 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $4 OR claimed_by = $2) AND ${FIRST_OF_ITS_KEY}
       RETURNING ${INBOX_COLUMNS}`,
      [id, owner, expiresAt, now],
    );
    return row && toDelivery(row);
  }

  async finishDelivery(id: string, at: Date, error?: string): Promise<void> {
    await this.#count("UPDATE inbox SET state = $1, error = $2, finished_at = $3, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = $4 AND state = 'pending'", [
      error === undefined ? "done" : "failed", error ?? null, at, id,
    ]);
  }

  async getDelivery(id: string): Promise<InboxDelivery | undefined> {
    const [row] = await this.#rows<InboxRow>(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE delivery_id = $1`, [id]);
    return row && toDelivery(row);
  }

  async pruneDeliveries(finishedBefore: Date): Promise<number> {
    return this.#count("DELETE FROM inbox WHERE state <> 'pending' AND finished_at < $1", [finishedBefore]);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.#rows<RunRow>(`SELECT ${runColumns()} FROM runs WHERE id = $1`, [id]);
    return row && toRecord(row);
  }

  async listRuns({ limit, repositories, repository, routine, status, outcome, triggerKind, before }: RunListQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (repositories) where.push(`(${repositories.map((r) => `(owner = ${p(r.owner)} AND repo = ${p(r.repo)})`).join(" OR ") || "false"})`);
    if (repository) where.push(`owner = ${p(repository.owner)} AND repo = ${p(repository.repo)}`);
    if (routine) where.push(`routine = ${p(routine)}`);
    if (status) where.push(`status = ${p(status)}`);
    if (outcome) where.push(`outcome = ${p(outcome)}`);
    if (triggerKind) where.push(`trigger_kind = ${p(triggerKind)}`);
    if (before) where.push(`(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ${p(before)})`);
    const rows = await this.#rows<RunRow>(
      `SELECT ${runColumns()} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ${p(limit)}`,
      params,
    );
    return rows.map(toRecord);
  }

  async countRecentRuns({ since, installationId, triggerKinds, routine, withoutOneOff, atMost }: RecentRunsQuery): Promise<number> {
    const where = ["installation_id = $1", "created_at >= $2", "status <> 'rejected'"];
    const params: unknown[] = [installationId, since];
    if (triggerKinds) {
      params.push([...triggerKinds]);
      where.push(`trigger_kind = ANY($${params.length})`);
    }
    if (routine) {
      params.push(routine.name, routine.repository.owner, routine.repository.repo);
      where.push(`routine = $${params.length - 2} AND owner = $${params.length - 1} AND repo = $${params.length}`);
    }
    if (withoutOneOff) where.push("NOT one_off");
    // NULL: no limit.
    params.push(atMost ?? null);
    const [row] = await this.#rows<{ count: number }>(`SELECT count(*) AS count FROM (SELECT 1 FROM runs WHERE ${where.join(" AND ")} LIMIT $${params.length}) AS recent`, params);
    return row!.count;
  }

  async queuedRunIds(key: string): Promise<string[]> {
    const rows = await this.#rows<{ id: string }>("SELECT id FROM runs WHERE concurrency_key = $1 AND status = 'queued' ORDER BY created_at, seq", [key]);
    return rows.map((row) => row.id);
  }

  /**
   * The queue's head, read through runs_claim without visiting the whole queue: the installations
   * with queued runs, one index step each; for each, its oldest run whose concurrency key is not
   * running (the runs it steps over are only those waiting behind a running run of their key) and
   * how many it runs; then the head of the installation running fewest, the oldest on a tie.
   *
   * Processes claiming at once may pick the same head: the row's lock makes one take it, and the
   * others find it no longer queued and look again. Two claims of runs of one concurrency key at
   * once collide on runs_one_running; the loser looks again and now sees that key running. A head
   * is never skipped for being locked: a run behind it of the same key would start first.
   */
  async claimNextRun(now: Date, lease: RunLease): Promise<RunRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [row] = await this.#rows<Partial<RunRow>>(
          `WITH RECURSIVE installations (id) AS (
             SELECT (SELECT min(installation_id) FROM runs WHERE status = 'queued')
             UNION ALL
             SELECT (SELECT min(installation_id) FROM runs WHERE status = 'queued' AND installation_id > installations.id)
             FROM installations WHERE installations.id IS NOT NULL
           ),
           heads AS (
             SELECT head.id, head.created_at, head.seq,
                    (SELECT count(*) FROM runs r WHERE r.status = 'running' AND r.installation_id = i.id) AS running
             FROM installations i CROSS JOIN LATERAL (
               SELECT q.id, q.created_at, q.seq FROM runs q
               WHERE q.status = 'queued' AND q.installation_id = i.id
                 AND (q.concurrency_key IS NULL OR NOT EXISTS (
                   SELECT 1 FROM runs r WHERE r.concurrency_key = q.concurrency_key AND r.status = 'running'))
               ORDER BY q.created_at, q.seq LIMIT 1) head
             WHERE i.id IS NOT NULL
           ),
           next AS (SELECT id FROM heads ORDER BY running, created_at, seq LIMIT 1),
           claimed AS (
             UPDATE runs SET status = 'running', started_at = $1, lease_owner = $2, lease_expires_at = $3
             FROM next WHERE runs.id = next.id AND runs.status = 'queued'
             RETURNING ${runColumns("runs")})
           SELECT claimed.* FROM next LEFT JOIN claimed ON true`,
          [now, lease.owner, lease.expiresAt],
        );
        if (!row) return undefined;
        // Another process took the head first.
        if (row.id === null || row.id === undefined) continue;
        return toRecord(row as RunRow);
      } catch (error) {
        if (!isUniqueViolation(error, "runs_one_running") || attempt >= 5) throw error;
      }
    }
  }

  async renewLeases(owner: string, runIds: readonly string[], expiresAt: Date): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows = await this.#rows<{ id: string }>(
      "UPDATE runs SET lease_expires_at = $1 WHERE lease_owner = $2 AND status = 'running' AND id = ANY($3) RETURNING id",
      [expiresAt, owner, [...runIds]],
    );
    return rows.map((row) => row.id);
  }

  async expiredRuns(now: Date): Promise<RunRecord[]> {
    const rows = await this.#rows<RunRow>(
      `SELECT ${runColumns()} FROM runs WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $1) ORDER BY created_at, seq`,
      [now],
    );
    return rows.map(toRecord);
  }

  async takeExpiredLease(id: string, now: Date, lease: RunLease): Promise<boolean> {
    // The row's lock makes one of several processes reaping at once the one that takes it.
    const taken = await this.#count(
      "UPDATE runs SET lease_owner = $1, lease_expires_at = $2 WHERE id = $3 AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $4)",
      [lease.owner, lease.expiresAt, id, now],
    );
    return taken === 1;
  }

  async transition(id: string, from: readonly RunStatus[], patch: RunPatch, owner?: string): Promise<boolean> {
    const columns: Record<keyof RunPatch, string> = {
      status: "status", reason: "reason", outcome: "outcome", summary: "summary", usage: "usage", startedAt: "started_at", finishedAt: "finished_at", stopReason: "stop_reason",
    };
    const entries = Object.entries(patch).filter(([, value]) => value !== undefined) as Array<[keyof RunPatch, unknown]>;
    const values = entries.map(([key, value]) => (key === "usage" ? JSON.stringify(value) : value));
    const set = entries.map(([key], index) => `${columns[key]} = $${index + 1}`).join(", ");
    const held = owner === undefined ? "" : ` AND lease_owner = $${entries.length + 3}`;
    const changed = await this.#count(`UPDATE runs SET ${set} WHERE id = $${entries.length + 1} AND status = ANY($${entries.length + 2})${held}`, [
      ...values, id, [...from], ...(owner === undefined ? [] : [owner]),
    ]);
    return changed === 1;
  }

  async addRunCost(id: string, costUsd: number): Promise<void> {
    await this.#count("UPDATE runs SET cost_usd = coalesce(cost_usd, 0) + $1 WHERE id = $2", [costUsd, id]);
  }

  async routineSpend({ repository, routine, since }: RoutineCostQuery): Promise<{ costUsd: number; exhausted: boolean }> {
    const [row] = await this.#rows<{ cost: number; exhausted: boolean }>(
      `SELECT coalesce(sum(cost_usd), 0) AS cost, coalesce(bool_or(stop_reason = 'daily_budget'), false) AS exhausted
       FROM runs WHERE owner = $1 AND repo = $2 AND routine = $3 AND created_at >= $4`,
      [repository.owner, repository.repo, routine, since],
    );
    return { costUsd: row!.cost, exhausted: row!.exhausted };
  }

  async lastReviewedCommit(concurrencyKey: string, exceptRunId: string): Promise<string | undefined> {
    const rows = await this.#rows<{ request: string }>(
      `SELECT request FROM runs WHERE concurrency_key = $1 AND status = 'completed' AND outcome = 'succeeded' AND id <> $2
       ORDER BY finished_at DESC NULLS LAST, created_at DESC, seq DESC LIMIT $3`,
      [concurrencyKey, exceptRunId, REVIEWED_LOOKBACK],
    );
    return rows.map((row) => reviewedCommitOf(row.request)).find((sha) => sha !== undefined);
  }

  async runningRuns(): Promise<RunRecord[]> {
    return (await this.#rows<RunRow>(`SELECT ${runColumns()} FROM runs WHERE status = 'running' ORDER BY created_at, seq`)).map(toRecord);
  }

  async requeue(id: string, attempt: number, owner?: string): Promise<boolean> {
    const held = owner === undefined ? "" : " AND lease_owner = $3";
    const changed = await this.#count(
      `UPDATE runs SET status = 'queued', started_at = NULL, attempt = $1, lease_owner = NULL, lease_expires_at = NULL WHERE id = $2 AND status = 'running'${held}`,
      [attempt, id, ...(owner === undefined ? [] : [owner])],
    );
    return changed === 1;
  }

  async recordRunToken({ token, runId, expiresAt }: RunToken): Promise<void> {
    await this.#count(
      "INSERT INTO run_tokens (token, run_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at",
      [token, runId, expiresAt],
    );
  }

  async forgetRunToken(token: string): Promise<void> {
    await this.#count("DELETE FROM run_tokens WHERE token = $1", [token]);
  }

  async liveRunTokens(now: Date): Promise<RunToken[]> {
    // Expired ones need no revoking: they go now.
    await this.#count("DELETE FROM run_tokens WHERE expires_at <= $1", [now]);
    const rows = await this.#rows<{ token: string; run_id: string; expires_at: Date }>(
      "SELECT token, run_id, expires_at FROM run_tokens t WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.run_id AND r.status = 'running')",
    );
    return rows.map((row) => ({ token: row.token, runId: row.run_id, expiresAt: row.expires_at }));
  }

  async runTokens(runId: string): Promise<RunToken[]> {
    const rows = await this.#rows<{ token: string; run_id: string; expires_at: Date }>("SELECT token, run_id, expires_at FROM run_tokens WHERE run_id = $1", [runId]);
    return rows.map((row) => ({ token: row.token, runId: row.run_id, expiresAt: row.expires_at }));
  }

  async countByState(): Promise<Array<{ status: RunStatus; outcome: RunOutcome | null; count: number }>> {
    return this.#rows("SELECT status, outcome, count(*) AS count FROM runs GROUP BY status, outcome");
  }

  async setCheckRunId(runId: string, checkRunId: number): Promise<void> {
    await this.#count("UPDATE runs SET check_run_id = $1 WHERE id = $2", [checkRunId, runId]);
  }

  async recordCheck({ key, runId, installationId, repository, headSha, name, priority, version, state }: CheckEntry): Promise<boolean> {
    const next = version === "next" ? "check_outbox.version + 1" : "excluded.version";
    const changed = await this.#count(
      `INSERT INTO check_outbox (key, run_id, installation_id, owner, repo, head_sha, name, priority, version, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (key) DO UPDATE SET version = ${next}, state = excluded.state
       WHERE ${next} > check_outbox.version`,
      [key, runId ?? null, installationId, repository.owner, repository.repo, headSha, name, priority, version === "next" ? 1 : version, JSON.stringify(state)],
    );
    return changed === 1;
  }

  async pendingChecks(now: Date, limit: number): Promise<PendingCheck[]> {
    const rows = await this.#rows<CheckRow>(
      `SELECT ${CHECK_COLUMNS} FROM check_outbox WHERE ${CHECK_DUE} ORDER BY ${CHECK_ORDER} LIMIT $2`,
      [now, limit],
    );
    return rows.map(toPendingCheck);
  }

  async claimChecks(now: Date, limit: number, { owner, expiresAt }: ItemClaim): Promise<PendingCheck[]> {
    // Rows another process is claiming this moment are skipped, not waited for.
    const rows = await this.#rows<CheckRow>(
      `WITH claimed AS (
         UPDATE check_outbox SET claimed_by = $3, claimed_until = $4
         WHERE key IN (SELECT key FROM check_outbox WHERE ${CHECK_DUE} AND ${UNCLAIMED} ORDER BY ${CHECK_ORDER} LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING ${CHECK_COLUMNS})
       SELECT ${CHECK_COLUMNS} FROM claimed ORDER BY ${CHECK_ORDER}`,
      [now, limit, owner, expiresAt],
    );
    return rows.map(toPendingCheck);
  }

  async markCheckCreating(key: string): Promise<void> {
    await this.#count("UPDATE check_outbox SET creating = true WHERE key = $1", [key]);
  }

  async markCheckPublished(key: string, version: number, checkRunId: number | undefined): Promise<void> {
    // One statement: the outbox row and its run's check run id change together.
    await this.#count(
      `WITH published AS (
         UPDATE check_outbox SET published_version = greatest(published_version, $1), check_run_id = coalesce($2, check_run_id),
           creating = false, attempts = 0, next_attempt_at = 'epoch', claimed_by = NULL, claimed_until = NULL
         WHERE key = $3 RETURNING run_id, check_run_id)
       UPDATE runs SET check_run_id = published.check_run_id FROM published
       WHERE runs.id = published.run_id AND published.check_run_id IS NOT NULL`,
      [version, checkRunId ?? null, key],
    );
  }

  async markCheckFailed(key: string, retryAt: Date): Promise<void> {
    await this.#count("UPDATE check_outbox SET attempts = attempts + 1, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL WHERE key = $2", [retryAt, key]);
  }

  async recordReply({ key, installationId, repository, issueNumber, write }: ReplyEntry, at: Date): Promise<boolean> {
    const inserted = await this.#count(
      `INSERT INTO reply_outbox (key, installation_id, owner, repo, issue_number, write, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (key) DO NOTHING`,
      [key, installationId, repository.owner, repository.repo, issueNumber, JSON.stringify(write), at],
    );
    return inserted === 1;
  }

  async pendingReplies(now: Date, limit: number): Promise<PendingReply[]> {
    const rows = await this.#rows<ReplyRow>(`SELECT ${REPLY_COLUMNS} FROM reply_outbox AS reply WHERE ${REPLY_DUE} ORDER BY seq LIMIT $2`, [now, limit]);
    return rows.map(toPendingReply);
  }

  async claimReplies(now: Date, limit: number, { owner, expiresAt }: ItemClaim): Promise<PendingReply[]> {
    const rows = await this.#rows<ReplyRow>(
      `WITH claimed AS (
         UPDATE reply_outbox SET claimed_by = $3, claimed_until = $4
         WHERE key IN (SELECT key FROM reply_outbox AS reply WHERE ${REPLY_DUE} AND ${UNCLAIMED} ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING ${REPLY_COLUMNS})
       SELECT ${REPLY_COLUMNS} FROM claimed ORDER BY seq`,
      [now, limit, owner, expiresAt],
    );
    return rows.map(toPendingReply);
  }

  async markReplyCreating(key: string): Promise<void> {
    await this.#count("UPDATE reply_outbox SET creating = true WHERE key = $1", [key]);
  }

  async markReplyDone(key: string, at: Date, outcome: "sent" | "abandoned"): Promise<void> {
    await this.#count("UPDATE reply_outbox SET state = $1, creating = false, done_at = $2, claimed_by = NULL, claimed_until = NULL WHERE key = $3", [outcome, at, key]);
  }

  async markReplyFailed(key: string, retryAt: Date): Promise<void> {
    await this.#count("UPDATE reply_outbox SET attempts = attempts + 1, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL WHERE key = $2", [retryAt, key]);
  }

  async pruneReplies(doneBefore: Date): Promise<number> {
    return this.#count("DELETE FROM reply_outbox WHERE state <> 'pending' AND done_at < $1", [doneBefore]);
  }

  async statusComment(key: string): Promise<StatusCommentRecord | undefined> {
    const [row] = await this.#rows<StatusCommentRow>(`SELECT ${STATUS_COMMENT_COLUMNS} FROM status_comments WHERE key = $1`, [key]);
    return row && toStatusComment(row);
  }

  async recordStatusComment({ key, installationId, repository, issueNumber, state, body }: StatusCommentEntry, expected: number): Promise<boolean> {
    if (expected === 0) {
      const inserted = await this.#count(
        `INSERT INTO status_comments (key, installation_id, owner, repo, issue_number, state, body, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
         ON CONFLICT (key) DO NOTHING`,
        [key, installationId, repository.owner, repository.repo, issueNumber, state, body],
      );
      return inserted === 1;
    }
    // The row's lock makes this a compare-and-set across processes: of two at one version, one wins.
    const changed = await this.#count("UPDATE status_comments SET state = $1, body = $2, version = version + 1 WHERE key = $3 AND version = $4", [state, body, key, expected]);
    return changed === 1;
  }

  async pendingStatusComments(now: Date, limit: number): Promise<PendingStatusComment[]> {
    const rows = await this.#rows<StatusCommentRow>(
      `SELECT ${STATUS_COMMENT_COLUMNS} FROM status_comments WHERE ${STATUS_COMMENT_DUE} ORDER BY next_attempt_at, seq LIMIT $2`,
      [now, limit],
    );
    return rows.map(toPendingStatusComment);
  }

  async claimStatusComments(now: Date, limit: number, { owner, expiresAt }: ItemClaim): Promise<PendingStatusComment[]> {
    const rows = await this.#rows<StatusCommentRow & { next_attempt_at: Date; seq: number }>(
      `WITH claimed AS (
         UPDATE status_comments SET claimed_by = $3, claimed_until = $4
         WHERE key IN (SELECT key FROM status_comments WHERE ${STATUS_COMMENT_DUE} AND ${UNCLAIMED} ORDER BY next_attempt_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING ${STATUS_COMMENT_COLUMNS}, next_attempt_at, seq)
       SELECT * FROM claimed ORDER BY next_attempt_at, seq`,
      [now, limit, owner, expiresAt],
    );
    return rows.map(toPendingStatusComment);
  }

  async markStatusCommentPublished(key: string, version: number, commentId: number | undefined): Promise<void> {
    await this.#count(
      `UPDATE status_comments SET published_version = greatest(published_version, $1), comment_id = coalesce($2, comment_id), attempts = 0, next_attempt_at = 'epoch',
         claimed_by = NULL, claimed_until = NULL
       WHERE key = $3`,
      [version, commentId ?? null, key],
    );
  }

  async markStatusCommentFailed(key: string, retryAt: Date): Promise<void> {
    await this.#count("UPDATE status_comments SET attempts = attempts + 1, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL WHERE key = $2", [retryAt, key]);
  }

  async renewClaims(queue: ClaimQueue, owner: string, keys: readonly string[], expiresAt: Date): Promise<string[]> {
    if (keys.length === 0) return [];
    const { table, key } = CLAIM_TABLES[queue];
    const rows = await this.#rows<{ key: string }>(
      `UPDATE ${table} SET claimed_until = $1 WHERE ${key} = ANY($2) AND claimed_by = $3 AND claimed_until IS NOT NULL RETURNING ${key} AS key`,
      [expiresAt, keys, owner],
    );
    return rows.map((row) => row.key);
  }

  async releaseClaims(queue: ClaimQueue): Promise<number> {
    const { table } = CLAIM_TABLES[queue];
    return this.#count(`UPDATE ${table} SET claimed_by = NULL, claimed_until = NULL WHERE claimed_until IS NOT NULL`);
  }

  async oneOffState(key: string): Promise<"fired" | "missed" | undefined> {
    const [row] = await this.#rows<{ state: "fired" | "missed" }>("SELECT state FROM one_offs WHERE key = $1", [key]);
    return row?.state;
  }

  async recordOneOff(key: string, state: "fired" | "missed", at: Date): Promise<boolean> {
    return (await this.#count("INSERT INTO one_offs (key, state, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING", [key, state, at])) === 1;
  }

  async setInstallationDisabled(installationId: number, disabled: boolean): Promise<void> {
    if (!disabled) {
      await this.#count("DELETE FROM disabled_installations WHERE installation_id = $1", [installationId]);
      return;
    }
    // Under the installation's admission lock: an admission that read the switch as off has
    // recorded its run before the switch is on, so cancelling queued runs afterwards finds it.
    await this.#transaction(async (store) => {
      await store.#holdAdmissions(installationId);
      await store.#count("INSERT INTO disabled_installations (installation_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING", [installationId, new Date()]);
    });
  }

  async isInstallationDisabled(installationId: number): Promise<boolean> {
    return (await this.#rows("SELECT 1 FROM disabled_installations WHERE installation_id = $1", [installationId])).length > 0;
  }

  async disabledInstallations(): Promise<number[]> {
    return (await this.#rows<{ installation_id: number }>("SELECT installation_id FROM disabled_installations")).map((row) => row.installation_id);
  }

  async cancelQueuedRuns(installationId: number, reason: string, at: Date): Promise<string[]> {
    const rows = await this.#rows<{ id: string }>(
      "UPDATE runs SET status = 'cancelled', reason = $1, finished_at = $2 WHERE installation_id = $3 AND status = 'queued' RETURNING id",
      [reason, at, installationId],
    );
    return rows.map((row) => row.id);
  }

  async createApiToken(token: ApiToken): Promise<void> {
    await this.#count("INSERT INTO api_tokens (trigger_id, owner, repo, routine, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)", [
      token.triggerId, token.repository.owner, token.repository.repo, token.routine, token.tokenHash, token.createdAt,
    ]);
  }

  async getApiToken(triggerId: string): Promise<ApiToken | undefined> {
    const [row] = await this.#rows<TokenRow>("SELECT * FROM api_tokens WHERE trigger_id = $1", [triggerId]);
    return row && toToken(row);
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return (await this.#rows<TokenRow>("SELECT * FROM api_tokens ORDER BY created_at")).map(toToken);
  }

  async revokeApiToken(triggerId: string, at: Date): Promise<boolean> {
    return (await this.#count("UPDATE api_tokens SET revoked_at = $1 WHERE trigger_id = $2 AND revoked_at IS NULL", [at, triggerId])) === 1;
  }

  async claimIdempotencyKey({ keyHash, fingerprint, claimedAt }: Omit<IdempotencyRecord, "answer">): Promise<IdempotencyRecord | undefined> {
    const at = claimedAt.getTime();
    return this.#transaction(async (store) => {
      await store.#rows(`SELECT pg_advisory_xact_lock(${lockKey("'idempotency:' || $1")})`, [keyHash]);
      await store.#count("DELETE FROM idempotency_keys WHERE claimed_at <= $1 OR (answer_status IS NULL AND claimed_at <= $2)", [
        new Date(at - IDEMPOTENCY_WINDOW_MS), new Date(at - ABANDONED_CLAIM_MS),
      ]);
      const [row] = await store.#rows<{ fingerprint: string; claimed_at: Date; answer_status: number | null; answer_body: string | null }>(
        "SELECT fingerprint, claimed_at, answer_status, answer_body FROM idempotency_keys WHERE key_hash = $1",
        [keyHash],
      );
      if (row) {
        const answer = row.answer_status === null ? {} : { answer: { status: row.answer_status, body: row.answer_body ?? "" } };
        return { keyHash, fingerprint: row.fingerprint, claimedAt: row.claimed_at, ...answer };
      }
      await store.#count("INSERT INTO idempotency_keys (key_hash, fingerprint, claimed_at) VALUES ($1, $2, $3)", [keyHash, fingerprint, claimedAt]);
      return undefined;
    });
  }

  async answerIdempotencyKey(keyHash: string, { status, body }: IdempotentAnswer): Promise<void> {
    await this.#count("UPDATE idempotency_keys SET answer_status = $1, answer_body = $2 WHERE key_hash = $3", [status, body, keyHash]);
  }

  async releaseIdempotencyKey(keyHash: string): Promise<void> {
    await this.#count("DELETE FROM idempotency_keys WHERE key_hash = $1 AND answer_status IS NULL", [keyHash]);
  }

  async createSession({ idHash, data, createdAt, expiresAt }: StoredSession): Promise<void> {
    // Expired sessions go as new ones come, so the table holds only live ones.
    await this.#count("DELETE FROM sessions WHERE expires_at <= $1", [createdAt]);
    await this.#count("INSERT INTO sessions (id_hash, data, created_at, expires_at) VALUES ($1, $2, $3, $4)", [idHash, data, createdAt, expiresAt]);
  }

  async getSession(idHash: string, now: Date): Promise<StoredSession | undefined> {
    const [row] = await this.#rows<{ data: string; created_at: Date; expires_at: Date }>(
      "SELECT data, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
      [idHash, now],
    );
    return row && { idHash, data: row.data, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#count("DELETE FROM sessions WHERE id_hash = $1", [idHash]);
  }

  async appendEvent(runId: string, kind: string, data: unknown, at = new Date()): Promise<number> {
    // The run's row hands out positions: appends to one transcript from anywhere queue on its lock.
    const [row] = await this.#rows<{ seq: number }>(
      `WITH next AS (UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq)
       INSERT INTO events (run_id, seq, at, kind, data) SELECT $1, last_event_seq, $2, $3, $4 FROM next RETURNING seq`,
      [runId, at, kind, JSON.stringify(data)],
    );
    if (!row) throw new Error(`no run ${runId} to add a transcript event to`);
    return row.seq;
  }

  async listEvents(runId: string, afterSeq = 0): Promise<TranscriptEvent[]> {
    const rows = await this.#rows<{ seq: number; at: Date; kind: string; data: string }>(
      "SELECT seq, at, kind, data FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq",
      [runId, afterSeq],
    );
    return rows.map((row) => ({ seq: row.seq, at: row.at, kind: row.kind, data: JSON.parse(row.data) }));
  }

  async ranOnPullRequest(repository: RepositoryId, number: number): Promise<boolean> {
    // Keys of runs on the pull request start with this prefix (see concurrencyKey): a range in byte order.
    const prefix = `${repository.owner}/${repository.repo}#${number}:`.toLowerCase();
    const rows = await this.#rows(`SELECT 1 FROM runs WHERE concurrency_key COLLATE "C" >= $1 AND concurrency_key COLLATE "C" < $2 LIMIT 1`, [prefix, `${prefix.slice(0, -1)};`]);
    return rows.length > 0;
  }

  async recordFinding(finding: FindingRecord): Promise<boolean> {
    const { repository, installationId, pullNumber, routine, commentId, path, side, startLine, endLine, headSha, postedAt } = finding;
    const inserted = await this.#count(
      `INSERT INTO findings (owner, repo, comment_id, pull_number, installation_id, routine, path, side, start_line, end_line, head_sha, posted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
      [repository.owner, repository.repo, commentId, pullNumber, installationId, routine, path, side, startLine, endLine, headSha, postedAt],
    );
    return inserted === 1;
  }

  async updateFindingSignals(repository: RepositoryId, commentId: number, signals: FindingSignals): Promise<boolean> {
    const updated = await this.#count(
      `UPDATE findings SET resolved = coalesce($1, resolved), lines_changed = coalesce($2, lines_changed),
         thumbs_up = coalesce($3, thumbs_up), thumbs_down = coalesce($4, thumbs_down)
       WHERE owner = $5 AND repo = $6 AND comment_id = $7`,
      [signals.resolved ?? null, signals.linesChanged ?? null, signals.thumbsUp ?? null, signals.thumbsDown ?? null, repository.owner, repository.repo, commentId],
    );
    return updated === 1;
  }

  async markFindingsMerged(repository: RepositoryId, pullNumber: number, at: Date): Promise<void> {
    await this.#count("UPDATE findings SET merged_at = $1 WHERE owner = $2 AND repo = $3 AND pull_number = $4", [at, repository.owner, repository.repo, pullNumber]);
  }

  async pullRequestFindings(repository: RepositoryId, pullNumber: number): Promise<StoredFinding[]> {
    const rows = await this.#rows<FindingRow>("SELECT * FROM findings WHERE owner = $1 AND repo = $2 AND pull_number = $3 ORDER BY posted_at, comment_id", [repository.owner, repository.repo, pullNumber]);
    return rows.map(toFinding);
  }

  async findingStats(repositories: readonly RepositoryId[]): Promise<RoutineFindingStats[]> {
    if (repositories.length === 0) return [];
    const addressed = "(resolved OR lines_changed)";
    const values: unknown[] = [];
    const p = (value: unknown) => {
      values.push(value);
      return `$${values.length}`;
    };
    const rows = await this.#rows<{
      owner: string; repo: string; routine: string; findings: number; addressed: number; unknown: number; pull_requests: number; thumbs_up: number; thumbs_down: number;
    }>(
      `SELECT owner, repo, routine, count(*) AS findings,
         count(*) FILTER (WHERE ${addressed} IS TRUE) AS addressed,
         count(*) FILTER (WHERE ${addressed} IS NOT TRUE AND (resolved IS NULL OR lines_changed IS NULL)) AS unknown,
         count(DISTINCT pull_number) AS pull_requests,
         coalesce(sum(thumbs_up), 0) AS thumbs_up, coalesce(sum(thumbs_down), 0) AS thumbs_down
       FROM findings
       WHERE merged_at IS NOT NULL AND (${repositories.map((r) => `(owner = ${p(r.owner)} AND repo = ${p(r.repo)})`).join(" OR ")})
       GROUP BY owner, repo, routine ORDER BY owner COLLATE "C", repo COLLATE "C", routine COLLATE "C"`,
      values,
    );
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
    await this.#rows("SELECT 1");
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Brings the schema up to date, one version per transaction. Under a session advisory lock, so
 * processes starting together take turns: the first migrates, the others find it done.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${lockKey("'schema'")})`);
    try {
      await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      const { rows } = await client.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM schema_migrations");
      const version = rows[0]!.version;
      if (version > MIGRATIONS.length) {
        throw new SchemaTooNewError(`the database is at schema version ${version}, newer than this server's ${MIGRATIONS.length}; upgrade the server`);
      }
      for (let next = version; next < MIGRATIONS.length; next++) {
        await client.query("BEGIN");
        try {
          await client.query(MIGRATIONS[next]!);
          await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [next + 1]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${lockKey("'schema'")})`).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
