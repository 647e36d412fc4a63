// Claim time against queue length: the time to claim the next run with 10, 10 000 and 100 000
// runs queued, on the SQLite store and (when PostgreSQL is on the machine) the PostgreSQL store,
// as a ratio against the time with 10 queued in the same run. The queue is a realistic mix: five
// installations, runs on pull requests (several waiting behind a running run of their routine on
// their pull request) and runs of schedules and API calls, with a few runs running.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { RunRequest } from "../src/run-request.js";
import { PgStore } from "../src/runs/pg-store.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import type { RunRecord, RunStore } from "../src/runs/store.js";
import { hasPostgres, startPostgres } from "../test/support/postgres.js";

const SIZES = (process.env.BENCH_QUEUED ?? "10,10000,100000").split(",").map(Number);
/** Claims timed at each size; each claimed run is queued again, so the queue keeps its length. */
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 30);
const RUNNING = 4;
const LEASE = { owner: "bench", expiresAt: new Date("2100-01-01T00:00:00Z") };

function request(i: number): RunRequest {
  const base = { repository: { owner: "acme", repo: `service-${i % 20}` }, installationId: 1 + (i % 5), configSha: "4f2a9c0d5e1b", routine: ["review", "triage", "docs"][i % 3]! };
  if (i % 4 === 0) return { ...base, trigger: { kind: "schedule", index: 0, scheduledFor: new Date(Date.UTC(2026, 10, 24, 0, i)).toISOString(), oneOff: false }, context: { withoutSecrets: false } };
  if (i % 4 === 1) return { ...base, trigger: { kind: "api", index: 1, triggerId: "trg_0123456789abcdef" }, context: { withoutSecrets: false } };
  return {
    ...base,
    trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${i}`, sender: "octocat" },
    context: {
      withoutSecrets: false,
      pullRequest: { number: i % 200, headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", headRef: "feature", baseRef: "main", title: "Update the README", author: "octocat" },
    },
  };
}

async function fill(store: RunStore, queued: number): Promise<void> {
  const start = Date.UTC(2026, 10, 24);
  const runs: RunRecord[] = Array.from({ length: queued + RUNNING }, (_, i) => ({ ...request(i), id: `run_${i}`, status: "queued", createdAt: new Date(start + i) }));
  for (let i = 0; i < runs.length; i += 64) await Promise.all(runs.slice(i, i + 64).map((run) => store.insertRun(run)));
  // A few running: the runs queued behind them on their pull requests wait, and their installations count them.
  for (let i = 0; i < RUNNING; i++) await store.claimNextRun(new Date(start), LEASE);
}

/** Median milliseconds of one claim, each claimed run queued again (untimed) so the next claim sees the same queue. */
async function claimTime(store: RunStore): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CLAIMS; i++) {
    const before = performance.now();
    const run = await store.claimNextRun(new Date(), LEASE);
    times.push(performance.now() - before);
    if (!run) throw new Error("the queue is empty");
    await store.requeue(run.id, 1);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function measure(name: string, open: () => Promise<RunStore>): Promise<void> {
  const times: number[] = [];
  for (const size of SIZES) {
    const store = await open();
    try {
      await fill(store, size);
      await claimTime(store); // warm the statement and the cache
      times.push(await claimTime(store));
    } finally {
      await store.close();
    }
  }
  const base = times[0]!;
  console.log(`  ${name.padEnd(10)}: ${SIZES.map((size, i) => `${size} queued ${times[i]!.toFixed(2)} ms (${(times[i]! / base).toFixed(2)}x)`).join(", ")}`);
}

console.log(`bench/claim: median of ${CLAIMS} claims of the next run, ${RUNNING} running, ratio against ${SIZES[0]} queued`);
const dir = mkdtempSync(join(tmpdir(), "routines-bench-claim-"));
let files = 0;
await measure("SQLite", async () => new SqliteStore(join(dir, `routines-${files++}.db`)));
if (hasPostgres) {
  const postgres = await startPostgres();
  try {
    await measure("PostgreSQL", async () => PgStore.open(await postgres.createDatabase()));
  } finally {
    await postgres.stop();
  }
} else {
  console.log("  PostgreSQL: not measured (no initdb/pg_ctl on this machine)");
}
