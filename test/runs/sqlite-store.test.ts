import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";

const run = promisify(execFile);

const request = (deliveryId: string, routine = "review"): RunRequest => ({
  routine,
  repository: { owner: "acme", repo: "app" },
  installationId: 7,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId, sender: "octocat" },
  context: { withoutSecrets: false },
});

/** Takes a database of this version back to schema version 15: bodies by themselves, the hashes of bodies in a table of their own. */
const TO_VERSION_15 = `
  CREATE TABLE inbox_bodies (seq INTEGER PRIMARY KEY REFERENCES inbox (seq) ON DELETE CASCADE, body TEXT NOT NULL);
  INSERT INTO inbox_bodies (seq, body) SELECT seq, body FROM received;
  CREATE TABLE webhook_bodies (body_hash TEXT PRIMARY KEY, delivery_id TEXT NOT NULL, received_at INTEGER NOT NULL);
  CREATE INDEX webhook_bodies_received ON webhook_bodies (received_at);
  INSERT INTO webhook_bodies SELECT body_hash, delivery_id, received_at FROM inbox WHERE body_hash IS NOT NULL;
  DROP TRIGGER inbox_forgotten;
  DROP TABLE received;
  DROP INDEX inbox_body_hash;
  ALTER TABLE inbox DROP COLUMN body_hash;
  DROP INDEX inbox_finished;
  CREATE INDEX inbox_finished ON inbox (finished_at);
  CREATE INDEX inbox_state ON inbox (state, seq);`;

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
    db.exec(TO_VERSION_15);
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
    db.exec(TO_VERSION_15);
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
    expect(after.prepare("SELECT count(*) AS count FROM received").get()).toEqual({ count: 0 });
    expect(after.prepare("SELECT name FROM pragma_table_info('inbox') WHERE name = 'body'").all()).toEqual([]);
    after.close();
  });

  it("keeps what a database of schema version 15 received, and refuses its bodies played again under another delivery id", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const window = 60 * 60_000;
    let store = new SqliteStore(file);
    await store.acceptDelivery({ id: "d-1", name: "push", body: '{"zen":"first"}', receivedAt: new Date() }, "hash-1", window);
    await store.close();
    const db = new Database(file);
    db.exec(TO_VERSION_15);
    db.pragma("user_version = 15");
    expect(db.prepare("SELECT body_hash, delivery_id FROM webhook_bodies").all()).toEqual([{ body_hash: "hash-1", delivery_id: "d-1" }]);
    db.close();
    store = new SqliteStore(file);
    expect(await store.acceptDelivery({ id: "d-2", name: "push", body: '{"zen":"first"}', receivedAt: new Date() }, "hash-1", window)).toEqual({ replayOf: "d-1" });
    expect(await store.acceptDelivery({ id: "d-1", name: "push", body: '{"zen":"first"}', receivedAt: new Date() }, "hash-1", window)).toEqual({ queued: false });
    expect((await store.pendingDeliveries(10, new Date())).map(({ id }) => id)).toEqual(["d-1"]);
    expect((await store.startDelivery("d-1", { owner: "me", expiresAt: new Date(Date.now() + 60_000) }, new Date()))?.body).toBe('{"zen":"first"}');
    await store.close();
  });

  it("gives deliveries acknowledged just before their process was killed their place in the inbox when the file is opened again", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    // The built store (npm test builds first), in a process that acknowledges two deliveries and is
    // killed at once, before their inbox rows are written (those wait a few milliseconds).
    const script = `
      import { SqliteStore } from ${JSON.stringify(new URL("../../dist/runs/sqlite-store.js", import.meta.url).pathname)};
      const store = new SqliteStore(${JSON.stringify(file)});
      for (const id of ["d-1", "d-2"]) await store.acceptDelivery({ id, name: "push", body: JSON.stringify({ id }), receivedAt: new Date() }, "hash-" + id, 60000);
      process.kill(process.pid, "SIGKILL");`;
    const killed = await run(process.execPath, ["--input-type=module", "--eval", script]).catch((error: { signal?: string }) => error.signal);
    expect(killed).toBe("SIGKILL");
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT count(*) AS count FROM received").get()).toEqual({ count: 2 });
    expect(raw.prepare("SELECT count(*) AS count FROM inbox").get()).toEqual({ count: 0 });
    raw.close();
    const store = new SqliteStore(file);
    expect((await store.pendingDeliveries(10, new Date())).map(({ id }) => id)).toEqual(["d-1", "d-2"]);
    expect(await store.acceptDelivery({ id: "d-3", name: "push", body: JSON.stringify({ id: "d-1" }), receivedAt: new Date() }, "hash-d-1", 60_000)).toEqual({ replayOf: "d-1" });
    expect((await store.startDelivery("d-2", { owner: "me", expiresAt: new Date(Date.now() + 60_000) }, new Date()))?.body).toBe('{"id":"d-2"}');
    await store.close();
  });

  it("keeps a received delivery that could not be added to the inbox, says so, and adds it at the next look", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
    const errors: string[] = [];
    const store = new SqliteStore(file, { onError: (error) => errors.push(error.message) });
    // Another connection makes writes to the inbox fail for a while, as a full disk would.
    const other = new Database(file);
    other.exec("CREATE TRIGGER inbox_refused BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(await store.acceptDelivery({ id: "d-1", name: "push", body: "{}", receivedAt: new Date() }, "hash-1", 60_000)).toEqual({ queued: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toEqual(["received webhook deliveries could not be added to the inbox yet: disk full"]);
    await expect(store.pendingDeliveries(10, new Date())).rejects.toThrow("disk full");
    expect(await store.acceptDelivery({ id: "d-1", name: "push", body: "{}", receivedAt: new Date() }, "hash-1", 60_000)).toEqual({ queued: false });
    other.exec("DROP TRIGGER inbox_refused");
    other.close();
    expect((await store.pendingDeliveries(10, new Date())).map(({ id }) => id)).toEqual(["d-1"]);
    await store.close();
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
