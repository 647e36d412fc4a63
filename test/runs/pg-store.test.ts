// What only the PostgreSQL store does: versioned migrations that processes starting together take
// in turn, a message naming DATABASE_URL when the database cannot be used, and claims and
// admissions that stay exact when several processes share the database. What every store does is
// in store-contract.test.ts.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { redactDatabaseUrl } from "../../src/runs/database-url.js";
import { DatabaseUnavailableError, PG_SCHEMA_VERSION, PgStore } from "../../src/runs/pg-store.js";
import type { RunRecord } from "../../src/runs/store.js";
import { freePort } from "../e2e/support/server-process.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";

const request = (deliveryId: string, number?: number): RunRequest => ({
  routine: "review",
  repository: { owner: "acme", repo: "app" },
  installationId: 7,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId, sender: "octocat" },
  context: { withoutSecrets: false, ...(number === undefined ? {} : { pullRequest: { number, headSha: "abc", headRef: "f", baseRef: "main", title: "t", author: "a" } }) },
});

async function query(url: string, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("redactDatabaseUrl", () => {
  it("hides the password and keeps the rest", () => {
    expect(redactDatabaseUrl("postgres://routines:s3cret@db.internal:5432/routines?sslmode=require")).toBe("postgres://routines:***@db.internal:5432/routines?sslmode=require");
    expect(redactDatabaseUrl("postgres://db/routines")).toBe("postgres://db/routines");
    expect(redactDatabaseUrl("postgres://routines:s3cret@db:port/routines")).toBe("(not shown: it is not a URL)");
  });
});

describe("PgStore, unreachable", () => {
  it("names DATABASE_URL without its password when the server cannot be reached", async () => {
    const password = `pw-${randomBytes(8).toString("hex")}`;
    const url = `postgres://routines:${password}@127.0.0.1:${await freePort()}/routines`;
    const error = await PgStore.open(url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toMatch(/^cannot use the PostgreSQL database at postgres:\/\/routines:\*\*\*@127\.0\.0\.1:\d+\/routines \(DATABASE_URL\): .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain(password);
  });
});

describe.skipIf(!hasPostgres)("PgStore", () => {
  let postgres: TestPostgres | undefined;
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it("migrates a new database once when several processes start together, and records each version", async () => {
    const url = await postgres!.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PgStore.open(url)));
    await Promise.all(stores.map((store) => store.close()));
    const versions = await query(url, "SELECT version FROM schema_migrations ORDER BY version");
    expect(versions.map((row) => row.version)).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1));
    // Opening again finds nothing to do.
    await (await PgStore.open(url)).close();
    expect(await query(url, "SELECT count(*)::int AS count FROM schema_migrations")).toEqual([{ count: PG_SCHEMA_VERSION }]);
  });

  it("refuses a database from a newer server", async () => {
    const url = await postgres!.createDatabase();
    await (await PgStore.open(url)).close();
    await query(url, "INSERT INTO schema_migrations (version) VALUES (99)");
    await expect(PgStore.open(url)).rejects.toThrow(/^the database is at schema version 99, newer than this server's \d+; upgrade the server$/);
  });

  it("names DATABASE_URL when the database does not exist", async () => {
    const url = `${postgres!.base}/missing_${randomBytes(4).toString("hex")}`;
    await expect(PgStore.open(url)).rejects.toThrow(/\(DATABASE_URL\): database "missing_\w+" does not exist/);
  });

  it("hands each queued run to one of the processes claiming together, and never runs two of one routine on one pull request", async () => {
    const url = await postgres!.createDatabase();
    const processes = await Promise.all([1, 2, 3].map(() => PgStore.open(url, { maxConnections: 4 })));
    const at = new Date("2026-11-24T10:00:00Z");
    const lease = { owner: "worker", expiresAt: new Date(at.getTime() + 60_000) };
    const claimAll = async () => {
      const claimed: string[] = [];
      await Promise.all(
        processes.flatMap((store) =>
          [1, 2, 3].map(async () => {
            for (let run = await store.claimNextRun(at, lease); run; run = await store.claimNextRun(at, lease)) claimed.push(run.id);
          }),
        ),
      );
      return claimed;
    };
    // Runs of one routine on one pull request, claimed by nine claimers at once: one starts (under
    // contention not always the oldest; admission keeps only one waiting per key anyway).
    for (let i = 0; i < 10; i++) {
      await processes[0]!.insertRun({ ...request(`s-${i}`, 1), id: `run_s${i}`, status: "queued", createdAt: new Date(at.getTime() - 100 + i) });
    }
    const [started, ...more] = await claimAll();
    expect(more).toEqual([]);
    await processes[0]!.cancelQueuedRuns(7, "done with these", at);
    await processes[0]!.transition(started!, ["running"], { status: "completed" });

    for (let i = 0; i < 30; i++) {
      // Every third run shares pull request 1; the others each have their own.
      const run: RunRecord = { ...request(`d-${i}`, i % 3 === 0 ? 1 : 100 + i), id: `run_${String(i).padStart(2, "0")}`, status: "queued", createdAt: new Date(at.getTime() + i) };
      await processes[0]!.insertRun(run);
    }
    const claimed = await claimAll();
    // One of pull request 1's runs is running, so its nine others wait.
    expect(claimed).toHaveLength(21);
    expect(new Set(claimed).size).toBe(21);
    const running = await processes[1]!.runningRuns();
    expect(running.filter((run) => run.context.pullRequest?.number === 1)).toHaveLength(1);
    await Promise.all(processes.map((store) => store.close()));
  });

  it("keeps caps and superseding exact across processes admitting together", async () => {
    const url = await postgres!.createDatabase();
    const processes = await Promise.all([1, 2, 3].map(() => PgStore.open(url, { maxConnections: 4 })));
    const admissions = processes.map((store) => new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 12 }));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => admissions[i % 3]!.admit(request(`d-${i}`, i % 2 === 0 ? 5 : undefined))));
    expect(results.filter((result) => result.status === "queued")).toHaveLength(12);
    // Of the queued runs on pull request 5, one waits; the rest were superseded.
    expect(await processes[0]!.queuedRunIds("acme/app#5:review")).toHaveLength(1);
    // The same delivery through another process is a duplicate, not a second run.
    expect((await admissions[1]!.admit(request("d-0", 5))).status).toBe("duplicate");
    await Promise.all(processes.map((store) => store.close()));
  });
});
