import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LISTENER_NAME, PgSignals } from "../../src/runs/pg-signals.js";
import { LocalSignals, type Resync, type Signal } from "../../src/runs/signals.js";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";

const until = async (condition: () => boolean | Promise<boolean>, what = "a condition") => {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("LocalSignals", () => {
  it("tells every listener at once, in order, also when one of them throws", () => {
    const errors: unknown[] = [];
    const signals = new LocalSignals((error) => errors.push(error));
    const heard: Array<Signal | Resync> = [];
    signals.subscribe(() => {
      throw new Error("a broken listener");
    });
    const stop = signals.subscribe((signal) => heard.push(signal));
    signals.publish({ type: "queued" });
    signals.publish({ type: "status", runId: "r1" });
    expect(heard).toEqual([{ type: "queued" }, { type: "status", runId: "r1" }]);
    expect(errors).toHaveLength(2);
    stop();
    signals.publish({ type: "queued" });
    expect(heard).toHaveLength(2);
  });
});

describe.skipIf(!hasPostgres)("PgSignals", () => {
  let postgres: TestPostgres | undefined;
  let url: string;
  const opened: PgSignals[] = [];
  const open = async (options: Parameters<typeof PgSignals.open>[1] = {}) => {
    const signals = await PgSignals.open(url, options);
    opened.push(signals);
    return signals;
  };
  const heardBy = (signals: PgSignals) => {
    const heard: Array<Signal | Resync> = [];
    signals.subscribe((signal) => heard.push(signal));
    return heard;
  };

  beforeAll(async () => {
    postgres = await startPostgres();
    url = await postgres.createDatabase();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((signals) => signals.close()));
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it("passes signals to the other processes on the database in the order sent, and to the sender once, at once", async () => {
    const [a, b] = [await open(), await open()];
    const [byA, byB] = [heardBy(a), heardBy(b)];
    const at = new Date("2026-11-26T08:00:00.000Z");
    a.publish({ type: "transcript", runId: "r1", seq: 1, kind: "assistant", event: { seq: 1, at, kind: "assistant", data: { text: "hello" } } });
    for (let seq = 2; seq <= 30; seq++) a.publish({ type: "transcript", runId: "r1", seq, kind: "assistant" });
    a.publish({ type: "routines", repository: { owner: "acme", repo: "app" } });
    // The sender heard all of it before the database did.
    expect(byA).toHaveLength(31);
    await until(() => byB.length === 31, "b to hear every signal");
    expect(byB[0]).toEqual({ type: "transcript", runId: "r1", seq: 1, kind: "assistant", event: { seq: 1, at, kind: "assistant", data: { text: "hello" } } });
    expect((byB[0] as { event: { at: unknown } }).event.at).toBeInstanceOf(Date);
    expect(byB.slice(1, 30).map((signal) => (signal as { seq: number }).seq)).toEqual(Array.from({ length: 29 }, (_, i) => i + 2));
    expect(byB[30]).toEqual({ type: "routines", repository: { owner: "acme", repo: "app" } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(byA).toHaveLength(31);
  });

  it("leaves a transcript event too large for NOTIFY out of its signal, which still says where to read it", async () => {
    const [a, b] = [await open(), await open()];
    const byB = heardBy(b);
    const big = "x".repeat(20_000);
    a.publish({ type: "transcript", runId: "r2", seq: 7, kind: "tool_result", event: { seq: 7, at: new Date(), kind: "tool_result", data: { output: big } } });
    await until(() => byB.length === 1, "b to hear the signal");
    expect(byB[0]).toEqual({ type: "transcript", runId: "r2", seq: 7, kind: "tool_result" });
  });

  it("listens again when its connection is cut, tells its listeners to look at the store again, and hears what comes next", async () => {
    const errors: unknown[] = [];
    const a = await open();
    const b = await open({ retryMs: 100, onError: (error) => errors.push(error) });
    const byB = heardBy(b);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const cut = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", [LISTENER_NAME]);
      expect(cut.rowCount).toBe(2);
    } finally {
      await admin.end();
    }
    await until(() => byB.some((signal) => signal.type === "resync"), "b to listen again");
    expect(errors.length).toBeGreaterThan(0);
    a.publish({ type: "queued" });
    await until(() => byB.some((signal) => signal.type === "queued"), "b to hear a signal after listening again");
  });

  it("does not start when the database cannot be reached", async () => {
    const unreachable = url.replace(/:(\d+)\//, (_, port: string) => `:${Number(port) === 1 ? 2 : 1}/`);
    await expect(PgSignals.open(unreachable)).rejects.toThrow();
  });
});
