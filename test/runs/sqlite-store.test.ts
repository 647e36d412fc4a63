import { statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";

const request = (deliveryId: string, routine = "review"): RunRequest => ({
  routine,
  repository: { owner: "acme", repo: "app" },
  installationId: 7,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId, sender: "octocat" },
  context: { withoutSecrets: false },
});

// What only the SQLite store does: its file and its schema versions. What every store does is in
// store-contract.test.ts.
describe("SqliteStore", () => {
  it("keeps runs in a file that a second store opens", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "nested", "routines.db");
    const first = new SqliteStore(file);
    const result = await new StoreAdmission(first, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 5, hourlyRunsPerInstallation: 5 }).admit(request("d-1"));
    await first.close();

    const second = new SqliteStore(file);
    expect(result.status).toBe("queued");
    expect(await second.getRun(result.status === "queued" ? result.run.id : "")).toEqual(result.status === "queued" ? result.run : undefined);
    await second.close();
  });

  it("refuses a database from a newer server", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const db = new Database(file);
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteStore(file)).toThrow(/^the database is at schema version 99, newer than this server's \d+; upgrade the server$/);
  });

  it("opens a database of the first schema version and adds what later versions keep", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const db = new Database(file);
    // The columns of the first version that later versions index.
    db.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, installation_id INTEGER NOT NULL, created_at INTEGER NOT NULL)");
    db.pragma("user_version = 1");
    db.close();
    const store = new SqliteStore(file);
    const now = new Date();
    await store.createSession({ idHash: "h", data: "{}", createdAt: now, expiresAt: new Date(now.getTime() + 1000) });
    expect(await store.getSession("h", now)).toMatchObject({ data: "{}" });
    await store.close();
  });

  it("adds the cost column to a database from before schema version 9", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const limits = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 50, hourlyRunsPerInstallation: 50 };
    const clock = { now: new Date("2026-11-24T10:00:00Z") };
    let store = new SqliteStore(file);
    const admit = async (id: string, routine = "review") => {
      const result = await new StoreAdmission(store, limits, { clock: () => clock.now }).admit(request(id, routine));
      if (result.status !== "queued") throw new Error(result.status);
      return result.run.id;
    };
    const old = await admit("d-old");
    await store.close();
    // A database from before version 9: no cost column (nor what later versions add).
    const db = new Database(file);
    db.exec("ALTER TABLE runs DROP COLUMN cost_usd; ALTER TABLE runs DROP COLUMN lease_owner; ALTER TABLE runs DROP COLUMN lease_expires_at");
    db.exec("DROP TABLE status_comments; DROP TABLE findings; DROP INDEX inbox_ordering; DROP INDEX runs_claim; DROP INDEX inbox_pending");
    db.exec("DROP TABLE inbox_bodies; ALTER TABLE inbox ADD COLUMN body TEXT NOT NULL DEFAULT ''");
    for (const table of ["inbox", "check_outbox", "reply_outbox"]) db.exec(`ALTER TABLE ${table} DROP COLUMN claimed_by; ALTER TABLE ${table} DROP COLUMN claimed_until`);
    db.pragma("user_version = 8");
    db.close();
    store = new SqliteStore(file);
    expect((await store.getRun(old))!.costUsd).toBeUndefined();
    await store.addRunCost(old, 0.25);
    await store.addRunCost(old, 0.5);
    expect((await store.getRun(old))!.costUsd).toBe(0.75);
    await store.close();
  });

  it("moves the inbox's bodies to their table when it opens a database of schema version 14, and forgets them with their deliveries", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    let store = new SqliteStore(file);
    await store.enqueueDelivery({ id: "d-1", name: "push", body: '{"zen":"old"}', receivedAt: new Date() });
    await store.close();
    // Version 14: the body in the inbox's own row.
    const db = new Database(file);
    db.exec("ALTER TABLE inbox ADD COLUMN body TEXT NOT NULL DEFAULT ''; UPDATE inbox SET body = (SELECT body FROM inbox_bodies WHERE inbox_bodies.seq = inbox.seq); DROP TABLE inbox_bodies");
    db.pragma("user_version = 14");
    db.close();
    store = new SqliteStore(file);
    expect((await store.getDelivery("d-1"))?.body).toBe('{"zen":"old"}');
    expect((await store.startDelivery("d-1", { owner: "me", expiresAt: new Date(Date.now() + 60_000) }, new Date()))?.body).toBe('{"zen":"old"}');
    await store.finishDelivery("d-1", new Date(Date.now() - 1_000));
    expect(await store.pruneDeliveries(new Date())).toBe(1);
    await store.close();
    const after = new Database(file);
    expect(after.prepare("SELECT count(*) AS count FROM inbox_bodies").get()).toEqual({ count: 0 });
    expect(after.prepare("SELECT name FROM pragma_table_info('inbox') WHERE name = 'body'").all()).toEqual([]);
    after.close();
  });

  it("copies the write-ahead log back into the database from a thread of its own, not in the writes", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const store = new SqliteStore(file, { checkpointOffThread: true });
    const empty = statSync(file).size;
    // About 600 kB of deliveries: far under the writes' own checkpoint mark, so only the thread copies them.
    for (let i = 0; i < 30; i++) await store.enqueueDelivery({ id: `d-${i}`, name: "push", body: "x".repeat(20_000), receivedAt: new Date() });
    const deadline = Date.now() + 20_000;
    while (statSync(file).size < empty + 400_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statSync(file).size).toBeGreaterThan(empty + 400_000);
    await store.close();
  });
});
