// Admission throughput and store size: 10 000 run requests admitted into the SQLite store (caps,
// dedup and supersede checks included), against plain better-sqlite3 inserts of the same rows in
// the same run.
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { StoreAdmission } from "../src/runs/admission.js";
import type { RunRequest } from "../src/run-request.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), "routines-bench-queue-"));

/** A realistic mix: pull request events (some for the same pull request), schedules and API calls. */
function request(i: number): RunRequest {
  const base = { repository: { owner: "acme", repo: `service-${i % 20}` }, installationId: 1 + (i % 5), configSha: "4f2a9c0d5e1b", routine: ["review", "triage", "docs"][i % 3]! };
  if (i % 4 === 0) {
    return { ...base, trigger: { kind: "schedule", index: 0, scheduledFor: new Date(Date.UTC(2026, 10, 24, 0, i)).toISOString(), oneOff: false }, context: { withoutSecrets: false } };
  }
  if (i % 4 === 1) return { ...base, trigger: { kind: "api", index: 1, triggerId: "trg_0123456789abcdef" }, context: { extraInstructions: "CPU on web-3 at 100%", withoutSecrets: false } };
  return {
    ...base,
    trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${i}`, sender: "octocat" },
    context: {
      withoutSecrets: false,
      pullRequest: { number: i % 200, headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", headRef: "feature", baseRef: "main", title: "Update the README", author: "octocat" },
    },
  };
}
const requests = Array.from({ length: RUNS }, (_, i) => request(i));
const fileSize = (file: string) => statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);

// Baseline: the same rows, inserted one statement each, nothing checked.
const baselineFile = join(dir, "baseline.db");
const raw = new Database(baselineFile);
raw.pragma("journal_mode = WAL");
raw.exec("CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT, created_at INTEGER, request TEXT)");
const insert = raw.prepare("INSERT INTO runs VALUES (?, 'queued', ?, ?)");
let started = performance.now();
requests.forEach((run, i) => insert.run(`run_${i}`, Date.now(), JSON.stringify(run)));
const baselineSeconds = (performance.now() - started) / 1000;
raw.pragma("wal_checkpoint(TRUNCATE)");
raw.close();

const storeFile = join(dir, "routines.db");
const store = new SqliteStore(storeFile);
const limits = { dailyRunsPerInstallation: 1_000_000, hourlyRunsPerRoutine: 1_000_000, hourlyRunsPerInstallation: 1_000_000 };
const admission = new StoreAdmission(store, limits);
const statuses = new Map<string, number>();
started = performance.now();
for (const run of requests) {
  const { status } = await admission.admit(run);
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}
const admissionSeconds = (performance.now() - started) / 1000;
await store.close();

const perSecond = (seconds: number) => RUNS / seconds;
const per10k = (bytes: number) => (bytes / RUNS) * 10_000;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
console.log(`bench/queue: ${RUNS} run requests (pull request events, schedules, API calls; ${[...statuses].map(([s, n]) => `${n} ${s}`).join(", ")})`);
console.log(`  plain inserts : ${perSecond(baselineSeconds).toFixed(0)} runs/s, ${mib(per10k(fileSize(baselineFile)))} per 10 000 runs`);
console.log(`  admission     : ${perSecond(admissionSeconds).toFixed(0)} runs/s, ${mib(per10k(fileSize(storeFile)))} per 10 000 runs`);
console.log(
  `  ratio (admission / plain inserts): throughput ${(baselineSeconds / admissionSeconds).toFixed(2)}x, size ${(fileSize(storeFile) / fileSize(baselineFile)).toFixed(2)}x`,
);
