// Dashboard page times against a bare request to the same server (GET /healthz, one trivial
// query of the store), over a store of 20 000 runs in 20 repositories: the runs list (newest page, a
// filtered page further back) and a run page with a 500-event transcript.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { newRunId } from "../src/runs/admission.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import type { RunRecord } from "../src/runs/store.js";
import { Browser, nockSignIn, startDashboard } from "../test/support/dashboard.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const REPOS = 20;

const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "routines-bench-dashboard-")), "routines.db"));
const statuses = ["completed", "errored", "cancelled", "rejected"] as const;
const start = Date.UTC(2026, 9, 1);
let middle = "";
for (let i = 0; i < RUNS; i++) {
  const run: RunRecord = {
    id: newRunId(),
    routine: ["review", "triage", "docs"][i % 3]!,
    repository: { owner: "acme", repo: `service-${i % REPOS}` },
    installationId: 42,
    configSha: "4f2a9c0d5e1b",
    trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${i}`, sender: "octocat" },
    context: { withoutSecrets: false },
    status: statuses[i % 4]!,
    ...(i % 4 === 0 ? { outcome: "succeeded" as const, summary: "No problems found." } : {}),
    createdAt: new Date(start + i * 60_000),
  };
  await store.insertRun(run);
  if (i === RUNS / 2) middle = run.id;
}
const transcriptRun = (await store.listRuns({ limit: 1 }))[0]!;
for (let i = 0; i < 500; i++) {
  if (i % 2 === 0) await store.appendEvent(transcriptRun.id, "tool_call", { id: `t${i}`, name: "shell", input: { command: `npm test -- --grep case-${i}` } });
  else await store.appendEvent(transcriptRun.id, "tool_result", { id: `t${i - 1}`, name: "shell", output: `ok ${i}\n`.repeat(i % 40), isError: false });
}

const server = await startDashboard({ store });
const browser = new Browser(server.base);
nockSignIn({
  login: "alice",
  installations: [
    { id: 42, account: "acme", type: "Organization", orgRole: "admin", repositories: Array.from({ length: REPOS }, (_, i) => ({ owner: "acme", repo: `service-${i}`, write: true })) },
  ],
});
await browser.signIn();

async function time(path: string): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS + 20; i++) {
    const began = performance.now();
    const response = await browser.fetch(path);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    if (i >= 20) samples.push(performance.now() - began);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)]!, p99: samples[Math.floor(samples.length * 0.99)]! };
}

const baseline = await time("/healthz");
const pages = {
  "runs, newest page": await time("/dashboard/runs"),
  "runs, filtered, older page": await time(`/dashboard/runs?status=completed&routine=review&before=${middle}`),
  "run with 500 events": await time(`/dashboard/runs/${transcriptRun.id}`),
};
await server.close();

console.log(`bench/dashboard: ${RUNS} runs in ${REPOS} repositories, ${REQUESTS} requests per page, one at a time`);
console.log(`  GET /healthz (baseline)     : p50 ${baseline.p50.toFixed(2)} ms, p99 ${baseline.p99.toFixed(2)} ms`);
for (const [name, { p50, p99 }] of Object.entries(pages)) {
  console.log(`  ${name.padEnd(28)}: p50 ${p50.toFixed(2)} ms (${(p50 / baseline.p50).toFixed(2)}x), p99 ${p99.toFixed(2)} ms (${(p99 / baseline.p99).toFixed(2)}x)`);
}
