// Ingest speed: a few thousand signed, real webhook payloads through the server's webhook path
// (the receiver that verifies and acknowledges a delivery, the inbox, and the app's handlers run
// from the inbox after the answer, as src/server.ts wires them), against a bare Probot app with one
// no-op handler behind Probot's own middleware, in the same run. Measured with 10 routines in one
// repository and with 1 000 routines over ten repositories (100 each, the most a file may hold).
// GitHub is a small fake on loopback that answers the calls the app makes (installation token,
// routines.yml, a pull request's files); the calls are counted per delivery.
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { createNodeMiddleware, Probot, ProbotOctokit, type ApplicationFunction } from "probot";
import { createApp } from "../src/app.js";
import { LIMITS } from "../src/config/limits.js";
import { validateOffThread } from "../src/config/validate-off-thread.js";
import { InboxProcessor } from "../src/github/inbox-processor.js";
import { webhookReceiver, type ReceivedWebhook } from "../src/github/receive-webhooks.js";
import { StoreAdmission } from "../src/runs/admission.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import { readSettings } from "../src/settings.js";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const WARMUP = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECRET = "bench-secret";
const PATH = "/api/github/webhooks";
/** Routines per repository at most (LIMITS.routinesPerFile). */
const PER_FILE = 100;

// ---------------------------------------------------------------------------------------------
// The routines: per repository, two that fire on the example pull requests (one of them only for
// changed files under src/), the rest listening to pull requests into other branches, issues with
// other labels, releases with other tags and other workflows, so that most triggers do not fire.

function routinesYml(count: number): string {
  const routines: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const github =
      i === 0 ? { event: "pull_request", filters: { base_branch: "master" } }
      : i === 1 ? { event: "pull_request", filters: { base_branch: "master" }, paths: ["src/**"] }
      : i % 4 === 0 ? { event: "pull_request", actions: ["opened", "synchronize", "labeled"], filters: { base_branch: `release/${i}`, labels: { none: ["skip"] } } }
      : i % 4 === 1 ? { event: "issues", actions: ["opened", "labeled"], filters: { labels: [`area-${i}`] } }
      : i % 4 === 2 ? { event: "release", filters: { tag: `v${i}.*` } }
      : { event: "workflow_run", filters: { workflow: `ci-${i}`, conclusion: "failure" } };
    routines[`routine-${i}`] = { prompt: `Check number ${i}.`, triggers: [{ github }] };
  }
  return JSON.stringify({ version: 1, routines });
}

// ---------------------------------------------------------------------------------------------
// The payloads: GitHub's published examples that carry an installation, spread over the repositories.

type Example = { name: string; examples: Array<Record<string, unknown>> };
const examples = (createRequire(import.meta.url)("@octokit/webhooks-examples") as Example[])
  .filter((entry) => ["pull_request", "release", "issues", "issue_comment", "push"].includes(entry.name))
  .flatMap((entry) => entry.examples.filter((example) => example.installation).map((example) => ({ name: entry.name, example })));
const sign = (body: string) => `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;

interface Delivery {
  name: string;
  body: string;
  signature: string;
}

/** Deliveries no two alike (the receiver refuses a body it has seen as a replay), each for one of the repositories. */
function deliveries(count: number, repositories: number, offset: number): Delivery[] {
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    const { name, example } = examples[n % examples.length]!;
    const payload = structuredClone(example) as Record<string, Record<string, unknown>>;
    const repo = `repo-${n % repositories}`;
    payload.installation = { ...payload.installation, id: 1 };
    payload.repository = { ...payload.repository, name: repo, full_name: `acme/${repo}`, owner: { ...(payload.repository!.owner as object), login: "acme" } };
    payload.sender = { ...payload.sender, id: n };
    if (payload.pull_request) payload.pull_request = { ...payload.pull_request, number: n };
    if (payload.issue) payload.issue = { ...payload.issue, number: n };
    const body = JSON.stringify(payload);
    return { name, body, signature: sign(body) };
  });
}

// ---------------------------------------------------------------------------------------------
// A fake GitHub on loopback.

const githubCalls = new Map<string, number>();
let routinesFile = routinesYml(10);
const fakeGithub: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
  const path = req.url?.split("?")[0] ?? "";
  const route = `${req.method} ${path.replace(/\/repos\/acme\/[^/]+/, "/repos/{repo}").replace(/\/pulls\/\d+/, "/pulls/{n}")}`;
  githubCalls.set(route, (githubCalls.get(route) ?? 0) + 1);
  req.resume();
  const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  if (route === "POST /app/installations/1/access_tokens") return json(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3_600_000).toISOString() });
  if (route.includes("/contents/.claude")) {
    // As GitHub does: a read with the ETag of the file as it is gets 304 (the example pushes to the default branch make the app look again).
    const etag = `"${createHash("sha1").update(routinesFile).digest("hex")}"`;
    if (req.headers["if-none-match"] === etag) return res.writeHead(304, { etag }).end();
    res.setHeader("etag", etag);
    return json(200, { type: "file", encoding: "base64", size: routinesFile.length, sha: "bench-sha", content: Buffer.from(routinesFile).toString("base64") });
  }
  if (route.endsWith("/files")) return json(200, [{ filename: "src/index.ts", status: "modified" }]);
  return json(404, { message: "Not Found" });
};

async function listen(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------------------------------------
// The two webhook paths.

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const silent = pino({ level: "silent" });

function probot(githubUrl: string): Probot {
  return new Probot({
    appId: 1,
    privateKey,
    secret: SECRET,
    baseUrl: githubUrl,
    log: silent,
    Octokit: ProbotOctokit.defaults((options: object) => ({ ...options, throttle: { enabled: false }, retry: { enabled: false } })),
  });
}

interface WebhookPath {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Stops handling what is acknowledged (it waits in the inbox), or starts again and resolves once all of it is handled. */
  pause(): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
}

async function bareProbot(githubUrl: string): Promise<WebhookPath> {
  const middleware = await createNodeMiddleware((app) => app.onAny(async () => undefined), { probot: probot(githubUrl) });
  return { handler: (req, res) => void middleware(req, res), pause: async () => undefined, drain: async () => undefined, close: async () => undefined };
}

/** The server's path, wired as src/server.ts wires it: receiver → inbox → the app's handlers. */
async function routinesServer(githubUrl: string): Promise<WebhookPath> {
  const settings = { ...readSettings({}), hourlyRunsPerRoutine: 1_000_000, hourlyRunsPerInstallation: 1_000_000, dailyRunsPerInstallation: 1_000_000 };
  const dir = mkdtempSync(join(tmpdir(), "routines-bench-ingest-"));
  const store = new SqliteStore(join(dir, "routines.db"), { checkpointOffThread: true });
  const app = probot(githubUrl);
  // Routines files are validated off the event loop, as the server does.
  const appFn: ApplicationFunction = createApp({ settings, store, admission: new StoreAdmission(store, settings), validate: validateOffThread });
  await app.load(appFn, { cwd: process.cwd(), addHandler: () => undefined });
  const startInbox = () => {
    const processor = new InboxProcessor(store, { handle: (event: ReceivedWebhook) => app.receive(event as Parameters<Probot["receive"]>[0]), keepMs: LIMITS.replayWindowMs, log: silent });
    processor.start();
    return processor;
  };
  let inbox: InboxProcessor | undefined = startInbox();
  const receiver = webhookReceiver({
    path: PATH,
    secret: SECRET,
    accept: async (delivery, bodyHash) => {
      const accepted = await store.acceptDelivery(delivery, bodyHash, LIMITS.replayWindowMs);
      if ("queued" in accepted && accepted.queued) inbox?.wake();
      return accepted;
    },
    log: silent,
  });
  return {
    handler: (req, res) => void receiver(req, res).then((mine) => mine || res.writeHead(404).end()),
    pause: async () => {
      await inbox?.idle();
      await inbox?.stop();
      inbox = undefined;
    },
    drain: async () => {
      inbox ??= startInbox();
      await inbox.idle();
      const [left] = await store.countDeliveries();
      if (left) throw new Error(`${left.count} deliveries are ${left.state}`);
    },
    close: async () => {
      await inbox?.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One measured round: every delivery through the path, one at a time, as GitHub sends them; first
// with the handlers paused (the acknowledgement alone), then handling what waits (the handlers
// alone), then again with both at once in the one process, as a server under steady load runs.

interface Acknowledged {
  perSecond: number;
  p50: number;
  p99: number;
}

interface Measurement {
  alone: Acknowledged;
  /** Deliveries handled per second, from the inbox, with nothing else to do. */
  handledPerSecond: number;
  alongside: Acknowledged;
  failures: number;
}

let sent = 0;
async function measure(open: (githubUrl: string) => Promise<WebhookPath>, githubUrl: string, repositories: number): Promise<Measurement> {
  const path = await open(githubUrl);
  const server = await listen(path.handler);
  const batch = deliveries(WARMUP + 2 * EVENTS, repositories, sent);
  let failures = 0;
  const send = async ({ name, body, signature }: Delivery) => {
    sent += 1;
    const response = await fetch(`${server.url}${PATH}`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-github-event": name, "x-github-delivery": `bench-${sent}`, "x-hub-signature-256": signature },
    });
    await response.arrayBuffer();
    if (response.status >= 300) failures += 1;
  };
  const burst = async (list: Delivery[]): Promise<Acknowledged> => {
    const times: number[] = [];
    const started = performance.now();
    for (const delivery of list) {
      const before = performance.now();
      await send(delivery);
      times.push(performance.now() - before);
    }
    const elapsed = performance.now() - started;
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return { perSecond: (list.length / elapsed) * 1000, p50: at(0.5), p99: at(0.99) };
  };
  for (const delivery of batch.slice(0, WARMUP)) await send(delivery);
  await path.drain();
  failures = 0;
  await path.pause();
  const alone = await burst(batch.slice(WARMUP, WARMUP + EVENTS));
  let started = performance.now();
  await path.drain();
  const handledPerSecond = (EVENTS / (performance.now() - started)) * 1000;
  started = performance.now();
  const alongside = await burst(batch.slice(WARMUP + EVENTS));
  await path.drain();
  await server.close();
  await path.close();
  return { alone, handledPerSecond, alongside, failures };
}

// ---------------------------------------------------------------------------------------------

const github = await listen(fakeGithub);
const fmt = (n: number) => n.toFixed(2);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`bench/ingest: ${EVENTS} signed deliveries (${examples.length} real payloads: pull_request, issues, release, issue_comment, push), one at a time; median of ${ROUNDS} rounds`);
let exitCode = 0;
for (const routines of (process.env.BENCH_ROUTINES ?? "10,1000").split(",").map(Number)) {
  const repositories = Math.ceil(routines / PER_FILE);
  routinesFile = routinesYml(Math.min(routines, PER_FILE));
  githubCalls.clear();
  // The two in turn, round after round, each round's ratio against the bare app's round next to it.
  const bare: Measurement[] = [];
  const ours: Measurement[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bare.push(await measure(bareProbot, github.url, repositories));
    ours.push(await measure(routinesServer, github.url, repositories));
  }
  const ratio = (pick: (m: Measurement) => number) => median(ours.map((m, i) => pick(m) / pick(bare[i]!)));
  const of = (list: Measurement[], pick: (m: Measurement) => number) => median(list.map(pick));
  const perDelivery = [...githubCalls]
    .filter(([route]) => !route.includes("access_tokens") && !route.includes("/contents/"))
    .map(([route, count]) => `${route} ${(count / (ROUNDS * (WARMUP + 2 * EVENTS))).toFixed(2)}`);
  console.log(`  ${routines} routines in ${repositories} ${repositories === 1 ? "repository" : "repositories"}:`);
  console.log(`    bare Probot app          : ${of(bare, (m) => m.alone.perSecond).toFixed(0)} events/s acknowledged (its no-op handler included), p50 ${fmt(of(bare, (m) => m.alone.p50))} ms, p99 ${fmt(of(bare, (m) => m.alone.p99))} ms`);
  console.log(`    routines, acknowledging  : ${of(ours, (m) => m.alone.perSecond).toFixed(0)} events/s, p50 ${fmt(of(ours, (m) => m.alone.p50))} ms, p99 ${fmt(of(ours, (m) => m.alone.p99))} ms (handlers paused)`);
  console.log(`    routines, handling       : ${of(ours, (m) => m.handledPerSecond).toFixed(0)} events/s from the inbox (config, matching, admission)`);
  console.log(`    routines, both at once   : ${of(ours, (m) => m.alongside.perSecond).toFixed(0)} events/s acknowledged, p50 ${fmt(of(ours, (m) => m.alongside.p50))} ms, p99 ${fmt(of(ours, (m) => m.alongside.p99))} ms`);
  console.log(`    ratio (routines / bare)  : acknowledging ${fmt(ratio((m) => m.alone.perSecond))}x (p99 ${fmt(ratio((m) => m.alone.p99))}x), both at once ${fmt(ratio((m) => m.alongside.perSecond))}x`);
  console.log(`    GitHub calls per delivery, all after the answer: ${perDelivery.join(", ") || "none"}`);
  const failures = [...bare, ...ours].reduce((sum, m) => sum + m.failures, 0);
  if (failures > 0) {
    console.error(`    ${failures} deliveries were not acknowledged with a 2xx`);
    exitCode = 1;
  }
}
await github.close();
process.exitCode = exitCode;
