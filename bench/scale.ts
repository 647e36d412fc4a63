// Scaling out on PostgreSQL: runs completed per second by 1, 2 and 4 `routines worker` processes
// (one `routines server` process, ROUTINES_WORKERS=0, takes the webhooks) on one database, against
// one SQLite process as `npm start` runs it, each process with the default two runs at once. Each
// batch is a burst of signed `issues` deliveries, one run each, against a fake GitHub and a fake
// Messages API on loopback; the sessions do nothing but report their outcome, so what is measured
// is the queue and the processes' coordination (admission, claims, leases, check runs, workspaces),
// first with a model that answers at once, then with one that takes TURN_MS per turn for TURNS
// turns, as sessions spend their time waiting on a model.
//
// Two latencies: the claim itself (claimNextRun against a queue of runs, from four claimers at
// once, as four worker processes claim), and pickup (a run's queued → started, as the store records
// them, for deliveries spaced apart so that the workers are idle: admission, the NOTIFY that wakes
// a worker, and its claim).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { StoreAdmission } from "../src/runs/admission.js";
import { PgStore } from "../src/runs/pg-store.js";
import type { RunRequest } from "../src/run-request.js";
import { MODEL_KEY, startFakeModel, type ScriptedTurn } from "../test/support/fake-model.js";
import { hasPostgres, startPostgres } from "../test/support/postgres.js";
import { FakeGitHub } from "../test/e2e/support/fake-github.js";
import { issuesEvent } from "../test/e2e/support/payloads.js";
import { ServerProcess, sleep } from "../test/e2e/support/server-process.js";

/** Runs a batch per process that runs sessions: two waves of its two sessions at once. */
const RUNS_PER_PROCESS = Number(process.env.BENCH_SCALE_RUNS ?? 4);
const REPEATS = Number(process.env.BENCH_SCALE_REPEATS ?? 3);
// Long enough that a process's two sessions end less often than once a second: each process paces
// its GitHub writes (a run's token revocation among them) to one a second, which would otherwise
// be what is measured. Real sessions wait on the model far longer.
const TURN_MS = Number(process.env.BENCH_SCALE_TURN_MS ?? 500);
const TURNS = Number(process.env.BENCH_SCALE_TURNS ?? 4);
const PICKUPS = Number(process.env.BENCH_SCALE_PICKUPS ?? 10);
const CLAIMS = Number(process.env.BENCH_SCALE_CLAIMS ?? 400);
const BATCH_TIMEOUT_MS = 120_000;
const REPO = "acme/bench";
// The built server, from build/bench/ (server-process.ts finds it from test/, not from build/).
const SERVER = fileURLToPath(new URL("../../dist/server.js", import.meta.url));
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const SECRET = "bench-webhook-secret";

if (!hasPostgres) {
  console.log("bench/scale: skipped, no PostgreSQL on this machine (initdb, pg_ctl; or POSTGRES_BIN)");
  process.exit(0);
}

const started = performance.now();
const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const github = await new FakeGitHub({ appId: 4242, privateKey }).start();
github.addInstallation(1, "acme");
await github.addRepository(REPO, 1, {
  "README.md": "bench\n",
  ".claude/routines.yml": JSON.stringify({ version: 1, routines: { triage: { prompt: "Triage this issue.", triggers: [{ github: { event: "issues", actions: ["opened"] } }] } } }),
});
const model = await startFakeModel();
const report = (summary: string): ScriptedTurn => ({ content: [{ type: "tool_use", name: "report_outcome", input: { outcome: "succeeded", summary } }] });
model.session("[bench-instant]", [report("Triaged.")]);
// The turns before the last read one file, the cheapest tool call there is; each answer takes TURN_MS.
model.session("[bench-wait]", (turn) => ({
  ...(turn < TURNS - 1 ? { content: [{ type: "tool_use" as const, name: "view", input: { path: "README.md" } }] } : report("Triaged.")),
  delayMs: TURN_MS,
}));
const postgres = await startPostgres();

const sessionSecret = randomBytes(32).toString("hex");
const dotenv = (extra: Record<string, string>) => ({
  APP_ID: "4242",
  PRIVATE_KEY: privateKey,
  WEBHOOK_SECRET: SECRET,
  GHE_HOST: github.host,
  GHE_PROTOCOL: "http",
  ANTHROPIC_API_KEY: MODEL_KEY,
  ANTHROPIC_BASE_URL: model.url,
  LOG_LEVEL: "warn",
  ROUTINES_SESSION_SECRET: sessionSecret,
  ROUTINES_DAILY_RUNS_PER_INSTALLATION: "100000",
  ROUTINES_HOURLY_RUNS_PER_ROUTINE: "100000",
  ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "100000",
  ...extra,
});

/** What the bench reads of a setup's runs: each run's times, in epoch milliseconds. */
interface RunTimes {
  status: string;
  created: number;
  started: number | null;
  finished: number | null;
  sessionStart: number | null;
  sessionEnd: number | null;
}

interface Setup {
  name: string;
  /** The processes that run sessions. */
  workers: number;
  /** Where webhooks go. */
  web: ServerProcess;
  /** The runs created at or after `since`. */
  runsSince(since: number): Promise<RunTimes[]>;
  close(): Promise<void>;
}

async function sqliteSetup(): Promise<Setup> {
  const cwd = await mkdtemp(join(tmpdir(), "routines-bench-scale-"));
  const web = await ServerProcess.start({ cwd, dotenv: dotenv({}), args: [SERVER] });
  const db = new Database(join(cwd, "data", "routines.db"), { readonly: true, fileMustExist: true });
  const event = (kind: string) => `(SELECT max(at) FROM events WHERE run_id = runs.id AND kind = '${kind}')`;
  const query = db.prepare<[number], RunTimes>(
    `SELECT status, created_at AS created, started_at AS started, finished_at AS finished, ${event("session_start")} AS sessionStart, ${event("session_end")} AS sessionEnd FROM runs WHERE created_at >= ?`,
  );
  return {
    name: "SQLite, one process",
    workers: 1,
    web,
    runsSince: async (since) => query.all(since),
    async close() {
      db.close();
      await stop(web);
    },
  };
}

async function postgresSetup(workers: number): Promise<Setup> {
  const url = await postgres.createDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const shared = { DATABASE_URL: url };
  const web = await ServerProcess.start({ dotenv: dotenv({ ...shared, ROUTINES_WORKERS: "0" }), args: [CLI, "server"] });
  const pool = await Promise.all(Array.from({ length: workers }, () => ServerProcess.start({ dotenv: dotenv(shared), args: [CLI, "worker"] })));
  const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;
  return {
    name: `PostgreSQL, ${workers} worker${workers === 1 ? "" : "s"}`,
    workers,
    web,
    async runsSince(since) {
      const event = (kind: string) => ms(`(SELECT max(at) FROM events WHERE run_id = runs.id AND kind = '${kind}')`);
      const { rows } = await client.query<RunTimes>(
        `SELECT status, ${ms("created_at")} AS created, ${ms("started_at")} AS started, ${ms("finished_at")} AS finished,
                ${event("session_start")} AS "sessionStart", ${event("session_end")} AS "sessionEnd"
         FROM runs WHERE created_at >= to_timestamp($1::float8 / 1000)`,
        [since],
      );
      return rows;
    },
    async close() {
      await client.end();
      for (const process of [...pool, web]) await stop(process);
    },
  };
}

async function stop(process: ServerProcess): Promise<void> {
  await process.stop().catch(() => undefined);
  process.killGroup();
}

let issues = 0;
const deliver = (setup: Setup, marker: string) => {
  const number = ++issues;
  return setup.web.deliver("issues", issuesEvent(github, REPO, { number, title: `Issue ${number} ${marker}`, body: "Something is off." }), { id: `bench-${number}`, secret: SECRET });
};

/** Waits until `count` runs created since `since` have ended, and returns them. */
async function ended(setup: Setup, since: number, count: number): Promise<RunTimes[]> {
  const deadline = Date.now() + BATCH_TIMEOUT_MS;
  for (;;) {
    const runs = await setup.runsSince(since);
    const done = runs.filter((run) => run.status !== "queued" && run.status !== "running");
    if (done.length >= count) {
      const failed = done.filter((run) => run.status !== "completed");
      if (failed.length > 0) throw new Error(`${setup.name}: ${failed.length} of ${count} runs did not complete (${failed.map((run) => run.status).join(", ")})`);
      return done;
    }
    if (Date.now() > deadline) throw new Error(`${setup.name}: ${done.length} of ${count} runs ended within ${BATCH_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

/** Where a run's time went, in milliseconds: queued, claimed until its session started (token, checkout), the session, and its end (token revoked, recorded). */
interface Phases {
  queued: number[];
  setup: number[];
  session: number[];
  end: number[];
}

/** Runs per second for a burst of deliveries, RUNS_PER_PROCESS for each worker process: from the first delivery to the last run's end. */
async function throughput(setup: Setup, marker: string, phases?: Phases): Promise<number> {
  const count = RUNS_PER_PROCESS * setup.workers;
  // Whole milliseconds: SQLite keeps them so, and a run admitted in the same one must count.
  const since = Math.floor(Date.now());
  const answers = await Promise.all(Array.from({ length: count }, () => deliver(setup, marker)));
  for (const answer of answers) if (answer.status >= 300) throw new Error(`${setup.name}: a delivery was answered ${answer.status}`);
  const runs = await ended(setup, since, count);
  for (const run of phases ? runs : []) {
    phases!.queued.push(run.started! - run.created);
    phases!.setup.push(run.sessionStart! - run.started!);
    phases!.session.push(run.sessionEnd! - run.sessionStart!);
    phases!.end.push(run.finished! - run.sessionEnd!);
  }
  return count / ((Math.max(...runs.map((run) => run.finished!)) - since) / 1000);
}

/** Queued → started of runs delivered one at a time, each after the one before has ended. */
async function pickup(setup: Setup): Promise<number[]> {
  const waits: number[] = [];
  for (let i = 0; i < PICKUPS; i++) {
    const since = Math.floor(Date.now());
    await deliver(setup, "[bench-instant]");
    const [run] = await ended(setup, since, 1);
    waits.push(run!.started! - run!.created);
  }
  return waits;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;

interface Result {
  instant: number[];
  wait: number[];
  phases: Phases;
  pickup?: number[];
}

async function measure(open: () => Promise<Setup>, withPickup: boolean): Promise<[string, Result]> {
  const setup = await open();
  try {
    // A first run warms the processes up (the repository's caches, the model client, JIT).
    const since = Math.floor(Date.now());
    await deliver(setup, "[bench-instant]");
    await ended(setup, since, 1);
    const result: Result = { instant: [], wait: [], phases: { queued: [], setup: [], session: [], end: [] } };
    for (let i = 0; i < REPEATS; i++) {
      result.instant.push(await throughput(setup, "[bench-instant]"));
      result.wait.push(await throughput(setup, "[bench-wait]", result.phases));
    }
    if (withPickup) result.pickup = await pickup(setup);
    console.error(`bench/scale: measured ${setup.name}`);
    return [setup.name, result];
  } finally {
    await setup.close();
  }
}

/** A run request like those the bench's deliveries make, for the claim timing. */
const request = (number: number): RunRequest => ({
  repository: { owner: "acme", repo: "bench" },
  installationId: 1,
  configSha: "4f2a9c0d5e1b",
  routine: "triage",
  trigger: { kind: "github", index: 0, event: "issues", action: "opened", deliveryId: `claim-${number}`, sender: "octocat" },
  context: { withoutSecrets: false, issue: { number, title: `Issue ${number}`, body: "Something is off.", author: "octocat", labels: [], url: `https://github.example/acme/bench/issues/${number}` } },
});

/** Each claimNextRun call's time, from four claimers at once taking CLAIMS queued runs one after another. */
async function claimTimes(): Promise<number[]> {
  const url = await postgres.createDatabase();
  const store = await PgStore.open(url);
  const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 1e6, hourlyRunsPerRoutine: 1e6, hourlyRunsPerInstallation: 1e6 });
  for (let number = 1; number <= CLAIMS; number++) await admission.admit(request(number));
  const claimers = await Promise.all([1, 2, 3, 4].map(() => PgStore.open(url, { maxConnections: 2 })));
  const times: number[] = [];
  await Promise.all(
    claimers.map(async (claimer, index) => {
      for (;;) {
        const at = performance.now();
        const owner = `bench:${index}`;
        const run = await claimer.claimNextRun(new Date(), { owner, expiresAt: new Date(Date.now() + 60_000) });
        if (!run) return;
        times.push(performance.now() - at);
        // Each claimer ends its run before it claims the next, as a worker with one free slot: a few run at once, as in a real queue.
        await claimer.transition(run.id, ["running"], { status: "completed", finishedAt: new Date() }, owner);
      }
    }),
  );
  if (times.length !== CLAIMS) throw new Error(`the claimers took ${times.length} runs of ${CLAIMS}`);
  for (const one of [store, ...claimers]) await one.close();
  return times;
}

const results = new Map<string, Result>();
try {
  for (const [name, result] of [
    await measure(sqliteSetup, true),
    await measure(() => postgresSetup(1), true),
    await measure(() => postgresSetup(2), false),
    await measure(() => postgresSetup(4), true),
  ]) {
    results.set(name, result);
  }
  const claims = await claimTimes();

  const fixed = (values: number[]) => values.map((value) => value.toFixed(2)).join(", ");
  console.log(
    `bench/scale: ${RUNS_PER_PROCESS} runs a batch per worker process, median of ${REPEATS}; one \`routines server\` process takes the webhooks, each process runs two runs at once; model answering at once, or after ${TURN_MS} ms for each of ${TURNS} turns`,
  );
  console.log(`  ${"setup".padEnd(26)} ${"instant runs/s".padEnd(34)} model-wait runs/s`);
  for (const [name, result] of results) console.log(`  ${name.padEnd(26)} ${`${median(result.instant).toFixed(2)} (${fixed(result.instant)})`.padEnd(34)} ${median(result.wait).toFixed(2)} (${fixed(result.wait)})`);
  const of = (name: string, kind: "instant" | "wait") => median(results.get(name)![kind]);
  const ratio = (a: string, b: string, kind: "instant" | "wait") => `${(of(a, kind) / of(b, kind)).toFixed(2)}x`;
  const [sqlite, one, two, four] = [...results.keys()] as [string, string, string, string];
  console.log(`  ratio 4 workers / 1 worker : instant ${ratio(four, one, "instant")}, model-wait ${ratio(four, one, "wait")} (target >= 3x when waiting on the model)`);
  console.log(`  ratio 2 workers / 1 worker : instant ${ratio(two, one, "instant")}, model-wait ${ratio(two, one, "wait")}`);
  console.log(`  ratio PG 1 worker / SQLite : instant ${ratio(one, sqlite, "instant")}, model-wait ${ratio(one, sqlite, "wait")}`);
  console.log(`  claimNextRun, 4 claimers taking ${CLAIMS} queued runs, each ending its run before the next claim: p50 ${percentile(claims, 50).toFixed(1)} ms, p99 ${percentile(claims, 99).toFixed(1)} ms (target p99 < 50 ms)`);
  for (const [name, result] of results) {
    if (result.pickup) console.log(`  pickup (queued -> started, idle workers), ${name}: p50 ${percentile(result.pickup, 50)} ms, p99 ${percentile(result.pickup, 99)} ms over ${result.pickup.length} runs`);
  }
  console.log("  where a model-wait run's time went, median ms: queued / claimed to session start (token, checkout) / session / session end to recorded (token revoked)");
  for (const [name, { phases }] of results) {
    console.log(`    ${name.padEnd(24)} ${[phases.queued, phases.setup, phases.session, phases.end].map((values) => String(Math.round(median(values)))).join(" / ")}`);
  }
  console.log(`  (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
} finally {
  await postgres.stop();
  await github.close();
  await model.close();
}
// Each ServerProcess.stop leaves its 30-second timeout pending: done, so exit rather than wait on it.
process.exit(0);
