// Webhook intake of the built server, as GitHub delivers a burst: signed pull_request deliveries
// (GitHub's own examples, aimed at a repository of a fake GitHub on loopback) sent from many
// connections at once. Measures deliveries acknowledged per second (and each acknowledgement's
// time), and run requests recorded per second as the server's /metrics counts them, against a bare
// Probot app with one no-op handler acknowledging the same deliveries in the same run.
// Only the server's HTTP interface is used (webhooks in, /metrics out), whatever sits behind it.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { FakeGitHub } from "../test/e2e/support/fake-github.js";
import { envFile, freePort, sleep } from "../test/e2e/support/server-process.js";

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** How long to wait for every run request to be recorded before reporting what was. */
const RECORD_TIMEOUT_MS = Number(process.env.BENCH_RECORD_TIMEOUT_S ?? 120) * 1000;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const APP_ID = 4242;
const SECRET = "bench-webhook-secret";
const METRICS_TOKEN = "bench-metrics-token";
const REPO = "acme/bench";
/** Routines that each delivery matches: each delivery asks for this many runs. */
const ROUTINES = ["review", "security", "docs", "tests"];

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

// ---------------------------------------------------------------------------------------------
// GitHub: a fake on loopback with one installation and one repository whose routines all match.

const github = await new FakeGitHub({ appId: APP_ID, privateKey }).start();
github.addInstallation(1, "acme");
const routinesYml = JSON.stringify({
  version: 1,
  routines: Object.fromEntries(ROUTINES.map((name) => [name, { prompt: `The ${name} pass.`, triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] }])),
});
const repository = await github.addRepository(REPO, 1, { "README.md": "bench\n", ".claude/routines.yml": routinesYml });
// Pull requests the fake GitHub knows, as the handlers read them (their files, for the config check).
await github.commit(REPO, "feature", { "src/change.txt": "a change\n" });
const headSha = await github.sha(REPO, "refs/heads/feature");
for (let number = 1; number <= DELIVERIES; number++) await github.openPullRequest(REPO, { head: "feature", number, title: `Change ${number}` });

// ---------------------------------------------------------------------------------------------
// The deliveries: GitHub's pull_request examples, each a new pull request of the fake repository.

type Payload = Record<string, unknown> & { pull_request: Record<string, unknown> & { head: object; base: object } };
const examples = (createRequire(import.meta.url)("@octokit/webhooks-examples") as Array<{ name: string; examples: Payload[] }>)
  .find((entry) => entry.name === "pull_request")!
  .examples.filter((example) => example.pull_request);
const deliveries = Array.from({ length: DELIVERIES }, (_, i) => {
  const example = structuredClone(examples[i % examples.length]!);
  const number = i + 1;
  const body = JSON.stringify({
    ...example,
    action: "opened",
    number,
    pull_request: {
      ...example.pull_request,
      number,
      state: "open",
      draft: false,
      head: { ...example.pull_request.head, ref: "feature", sha: headSha },
      base: { ...example.pull_request.base, ref: repository.defaultBranch },
    },
    repository: github.repositoryJson(repository),
    installation: { id: 1, node_id: "I_1" },
  });
  return { id: `bench-${randomBytes(8).toString("hex")}`, body, signature: `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` };
});

// ---------------------------------------------------------------------------------------------
// One burst: every delivery sent from CONNECTIONS connections at once.

interface Burst {
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Map<number, number>;
  startedAt: number;
}

async function burst(url: string): Promise<Burst> {
  const pool = new Pool(url, { connections: CONNECTIONS, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const times: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const startedAt = performance.now();
  const connection = async () => {
    while (next < deliveries.length) {
      const { id, body, signature } = deliveries[next++]!;
      const sent = performance.now();
      const response = await pool.request({
        path: "/api/github/webhooks",
        method: "POST",
        body,
        headers: { "content-type": "application/json", "user-agent": "GitHub-Hookshot/bench", "x-github-event": "pull_request", "x-github-delivery": id, "x-hub-signature-256": signature },
      });
      await response.body.arrayBuffer();
      times.push(performance.now() - sent);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, connection));
  const elapsed = performance.now() - startedAt;
  await pool.close();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { perSecond: (deliveries.length / elapsed) * 1000, p50: at(0.5), p99: at(0.99), max: times.at(-1)!, statuses, startedAt };
}

/** Runs in the server's store, of every status, as /metrics counts them. */
async function runsRecorded(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return [...text.matchAll(/^routines_runs\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

// ---------------------------------------------------------------------------------------------
// The baseline first, then the built server (workers off: the bench measures intake, not sessions).

/** A server process in its own process group, once it answers /healthz. */
async function start(args: string[], options: { cwd?: string; env?: Record<string, string> }): Promise<{ url: string; port: number; child: ChildProcess }> {
  const port = Number(options.env?.PORT ?? (await freePort()));
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...options.env }, detached: true, stdio: ["ignore", "inherit", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); tries++) {
    if (tries > 300 || child.exitCode !== null) throw new Error(`${args.join(" ")} did not start`);
    await sleep(100);
  }
  return { url, port, child };
}

/** SIGTERM, then SIGKILL for the group if it has not exited within `ms`. */
async function stop(child: ChildProcess, ms = 60_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(ms)]);
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

const bareServer = await start([join(ROOT, "build", "bench", "bare-probot.js")], {
  env: { PORT: String(await freePort()), APP_ID: String(APP_ID), PRIVATE_KEY: privateKey, WEBHOOK_SECRET: SECRET },
});
let bare: Burst;
try {
  // Its better of two bursts, so the baseline does not pay for warming its process.
  const [first, second] = [await burst(bareServer.url), await burst(bareServer.url)];
  bare = first.perSecond > second.perSecond ? first : second;
} finally {
  await stop(bareServer.child);
}

// The built server as a user starts it: `node dist/server.js`, configured by `.env`.
const cwd = await mkdtemp(join(tmpdir(), "routines-bench-intake-"));
const port = await freePort();
await writeFile(
  join(cwd, ".env"),
  envFile({
    PORT: String(port),
    APP_ID: String(APP_ID),
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    // No session runs (no workers), so the model is never called.
    ANTHROPIC_API_KEY: "bench-model-key",
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
    ROUTINES_WORKERS: "0",
    ROUTINES_METRICS_TOKEN: METRICS_TOKEN,
    ROUTINES_HOURLY_RUNS_PER_ROUTINE: "1000000",
    ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "1000000",
    ROUTINES_DAILY_RUNS_PER_INSTALLATION: "1000000",
    LOG_LEVEL: "warn",
  }),
);
const server = await start([join(ROOT, "dist", "server.js")], { cwd, env: { PORT: String(port) } });
let ours: Burst | undefined;
let recorded = 0;
let recordedIn = 0;
try {
  const before = await runsRecorded(server.url);
  const expected = before + DELIVERIES * ROUTINES.length;
  const measured = (ours = await burst(server.url));
  while ((recorded = await runsRecorded(server.url)) < expected && performance.now() - measured.startedAt < RECORD_TIMEOUT_MS) await sleep(100);
  recordedIn = performance.now() - measured.startedAt;
  recorded -= before;
} finally {
  await stop(server.child);
  await github.close();
}

if (!ours) throw new Error("the burst against the server did not finish");
const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0);
const statusText = (statuses: Map<number, number>) => [...statuses].map(([status, count]) => `${status} ×${count}`).join(", ");
const runsExpected = DELIVERIES * ROUTINES.length;
console.log(`bench/intake: ${DELIVERIES} signed pull_request deliveries (${examples.length} real payloads), ${CONNECTIONS} connections, ${ROUTINES.length} routines matching each`);
console.log(`  bare Probot app : ${fmt(bare.perSecond)} deliveries/s acknowledged, p50 ${fmt(bare.p50)} ms, p99 ${fmt(bare.p99)} ms, max ${fmt(bare.max)} ms (${statusText(bare.statuses)})`);
console.log(`  routines server : ${fmt(ours.perSecond)} deliveries/s acknowledged, p50 ${fmt(ours.p50)} ms, p99 ${fmt(ours.p99)} ms, max ${fmt(ours.max)} ms (${statusText(ours.statuses)})`);
console.log(
  `  run requests    : ${recorded} of ${runsExpected} recorded in ${fmt(recordedIn / 1000)} s from the first delivery: ${fmt((recorded / recordedIn) * 1000)} run requests/s` +
    (recorded < runsExpected ? ` (stopped waiting after ${RECORD_TIMEOUT_MS / 1000} s)` : ""),
);
const ratio = (n: number) => `${n.toPrecision(2)}x`;
console.log(`  ratio (routines / bare): acknowledged per second ${ratio(ours.perSecond / bare.perSecond)}, p99 ${ratio(ours.p99 / bare.p99)}`);
const failures = [...bare.statuses, ...ours.statuses].filter(([status]) => status >= 300).reduce((sum, [, count]) => sum + count, 0);
if (failures > 0) {
  console.error(`  ${failures} deliveries were not acknowledged with a 2xx`);
  process.exitCode = 1;
}
