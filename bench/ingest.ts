// Ingest speed: a few thousand signed, real webhook payloads through Probot's webhook middleware,
// for this app and for a bare Probot app in the same run. GitHub is a small fake on loopback that
// answers the few calls the app makes (installation token, routines.yml, a pull request's files).
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { createNodeMiddleware, Probot, ProbotOctokit, type ApplicationFunction } from "probot";
import { createApp } from "../src/app.js";
import { StoreAdmission } from "../src/runs/admission.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import { readSettings } from "../src/settings.js";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const WARMUP = 200;
const SECRET = "bench-secret";
const ROOT = new URL("../../", import.meta.url);

// ---------------------------------------------------------------------------------------------
// The payloads: GitHub's published examples that carry an installation, for one repository.

type Example = { name: string; examples: Array<Record<string, unknown>> };
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as Example[];
const deliveries: Array<{ name: string; body: string }> = [];
for (const name of ["pull_request", "release", "issue_comment", "push"]) {
  for (const example of examples.find((entry) => entry.name === name)?.examples ?? []) {
    if (!example.installation) continue;
    const payload = structuredClone(example) as Record<string, unknown> & { installation: { id: number } };
    payload.installation.id = 1;
    deliveries.push({ name, body: JSON.stringify(payload) });
  }
}
const sign = (body: string) => `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;

// ---------------------------------------------------------------------------------------------
// A fake GitHub on loopback.

const routinesYml = readFileSync(new URL("routines.example.yml", ROOT), "utf8")
  // The example payloads target "master"; let the review routine fire on them.
  .replace("base_branch: main", "base_branch: master");
const githubCalls = new Map<string, number>();
const fakeGithub: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
  const route = `${req.method} ${req.url?.split("?")[0]}`;
  githubCalls.set(route, (githubCalls.get(route) ?? 0) + 1);
  req.resume();
  const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  if (route === "POST /app/installations/1/access_tokens") return json(201, { token: "ghs_bench", expires_at: new Date(Date.now() + 3_600_000).toISOString() });
  if (route.includes("/contents/.claude")) {
    return json(200, { type: "file", encoding: "base64", size: routinesYml.length, sha: "bench-sha", content: Buffer.from(routinesYml).toString("base64") });
  }
  if (route.endsWith("/files")) return json(200, []);
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
// One measured run: every delivery through the middleware, one at a time, as GitHub sends them.

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

interface Measurement {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

async function measure(appFn: ApplicationFunction, githubUrl: string): Promise<Measurement> {
  const probot = new Probot({
    appId: 1,
    privateKey,
    secret: SECRET,
    baseUrl: githubUrl,
    log: pino({ level: "silent" }),
    Octokit: ProbotOctokit.defaults((options: object) => ({ ...options, throttle: { enabled: false }, retry: { enabled: false } })),
  });
  const middleware = await createNodeMiddleware(appFn, { probot });
  const server = await listen((req, res) => void middleware(req, res));
  let sent = 0;
  let failures = 0;
  const send = async () => {
    const { name, body } = deliveries[sent % deliveries.length]!;
    sent += 1;
    const response = await fetch(`${server.url}/api/github/webhooks`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-github-event": name, "x-github-delivery": `bench-${sent}`, "x-hub-signature-256": sign(body) },
    });
    await response.arrayBuffer();
    if (response.status !== 200) failures += 1;
  };
  for (let i = 0; i < WARMUP; i++) await send();
  failures = 0;
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const before = performance.now();
    await send();
    times.push(performance.now() - before);
  }
  const elapsed = performance.now() - started;
  await server.close();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { eventsPerSecond: (EVENTS / elapsed) * 1000, p50: at(0.5), p99: at(0.99), failures };
}

// ---------------------------------------------------------------------------------------------

const github = await listen(fakeGithub);
const settings = { ...readSettings({}), hourlyRunsPerRoutine: 1_000_000, hourlyRunsPerInstallation: 1_000_000 };
const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "routines-bench-")), "routines.db"));
const ours = createApp({ settings, store, admission: new StoreAdmission(store, settings) });
const bare: ApplicationFunction = (app) => {
  app.onAny(async () => undefined);
};

// Alternate the two, twice, and keep each one's better round, so neither pays for warming the process.
const results: Record<"bare" | "routines", Measurement[]> = { bare: [], routines: [] };
for (let round = 0; round < 2; round++) {
  results.bare.push(await measure(bare, github.url));
  results.routines.push(await measure(ours, github.url));
}
const best = (list: Measurement[]) => list.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
const [b, r] = [best(results.bare), best(results.routines)];
await github.close();
await store.close();

const fmt = (n: number) => n.toFixed(2);
console.log(`bench/ingest: ${EVENTS} signed deliveries (${deliveries.length} distinct real payloads: pull_request, release, issue_comment, push), one at a time`);
console.log(`  bare Probot app : ${b.eventsPerSecond.toFixed(0)} events/s, p50 ${fmt(b.p50)} ms, p99 ${fmt(b.p99)} ms`);
console.log(`  routines app    : ${r.eventsPerSecond.toFixed(0)} events/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`);
console.log(`  ratio (routines / bare): throughput ${fmt(r.eventsPerSecond / b.eventsPerSecond)}x, p50 ${fmt(r.p50 / b.p50)}x, p99 ${fmt(r.p99 / b.p99)}x`);
console.log(`  GitHub calls by the routines app over all rounds: ${[...githubCalls].map(([route, count]) => `${route} ×${count}`).join(", ") || "none"}`);
if (b.failures + r.failures > 0) {
  console.error(`  ${b.failures + r.failures} deliveries were not answered 200`);
  process.exitCode = 1;
}
