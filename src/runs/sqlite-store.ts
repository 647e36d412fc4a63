// The embedded store: SQLite through better-sqlite3, in one file under the data directory.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { InsertResult, RecentRunsQuery, RunRecord, RunStore } from "./store.js";

/** Schema versions, applied in order; the database remembers the last one in user_version. */
const MIGRATIONS = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     dedupe_key TEXT UNIQUE,
     routine TEXT NOT NULL,
     owner TEXT NOT NULL,
     repo TEXT NOT NULL,
     installation_id INTEGER NOT NULL,
     trigger_kind TEXT NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     outcome TEXT,
     created_at INTEGER NOT NULL,
     request TEXT NOT NULL
   );
   CREATE INDEX runs_installation_created ON runs (installation_id, created_at);`,
];

interface RunRow {
  id: string;
  status: RunRecord["status"];
  reason: string | null;
  outcome: RunRecord["outcome"] | null;
  created_at: number;
  request: string;
}

export class SqliteStore implements RunStore {
  readonly #db: Database.Database;

  /** Opens (creating when needed) the database at `file`, or an in-memory one for ":memory:". */
  constructor(file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#migrate();
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

  async insertRun(run: RunRecord, dedupeKey?: string): Promise<InsertResult> {
    const { id, status, reason, outcome, createdAt, ...request } = run;
    const inserted = this.#db
      .prepare(
        `INSERT INTO runs (id, dedupe_key, routine, owner, repo, installation_id, trigger_kind, status, reason, outcome, created_at, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
      )
      .run(id, dedupeKey ?? null, run.routine, run.repository.owner, run.repository.repo, run.installationId, run.trigger.kind, status, reason ?? null, outcome ?? null, createdAt.getTime(), JSON.stringify(request));
    if (inserted.changes === 1) return { inserted: true };
    const existing = this.#db.prepare("SELECT id FROM runs WHERE dedupe_key = ?").get(dedupeKey) as { id: string };
    return { inserted: false, existingId: existing.id };
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#db.prepare("SELECT id, status, reason, outcome, created_at, request FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    if (!row) return undefined;
    return {
      ...(JSON.parse(row.request) as Omit<RunRecord, "id" | "status" | "createdAt">),
      id: row.id,
      status: row.status,
      ...(row.reason === null ? {} : { reason: row.reason }),
      ...(row.outcome === null ? {} : { outcome: row.outcome }),
      createdAt: new Date(row.created_at),
    };
  }

  async countRecentRuns({ since, installationId, triggerKinds, routine }: RecentRunsQuery): Promise<number> {
    const kinds = triggerKinds.map(() => "?").join(", ");
    const narrow = routine ? " AND routine = ? AND owner = ? AND repo = ?" : "";
    const row = this.#db
      .prepare(`SELECT count(*) AS count FROM runs WHERE installation_id = ? AND created_at >= ? AND status != 'rejected' AND trigger_kind IN (${kinds})${narrow}`)
      .get(installationId, since.getTime(), ...triggerKinds, ...(routine ? [routine.name, routine.repository.owner, routine.repository.repo] : [])) as { count: number };
    return row.count;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
