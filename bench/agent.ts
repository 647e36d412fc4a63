// The harness's own cost per turn, and how much of the input the prompt cache serves, over a
// 20-turn scripted session against the fake Messages API on loopback, its transcript redacted and
// written to the SQLite store as a server does. Baseline in the same run: the same 20 requests
// streamed with the SDK alone (as the loop streams them: the SDK refuses a non-streaming call whose
// max_tokens could outlast ten minutes), without tools, transcript or loop. Three rounds, each on
// a fresh tree; the median is reported.
//
// Two figures per turn. Wall time: the loop against the SDK alone, tools included — a search runs
// ripgrep in a confined child process, whose start (bubblewrap's namespaces) is most of a small
// search. The server's CPU: what the loop costs the server process itself (its thread and its
// thread pool; not the child processes), the figure that decides how many sessions one server
// can drive; the harness's own work is that, less the SDK's.
//
// Both are measured as a running server would run them: one request is sent with the SDK before
// either is timed (the process's first request loads and compiles the HTTP stack, ~50-150 ms
// once), and the glob workers a server keeps between runs are started first.
import { mkdir, mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Anthropic from "@anthropic-ai/sdk";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import { runAgentLoop } from "../src/session/agent-loop.js";
import { commandEnvironment } from "../src/session/command-env.js";
import { createRedactor } from "../src/session/redact.js";
import { WORKSPACE_TOOLS } from "../src/session/run-session.js";
import { prepareMatchers } from "../src/session/tools/matcher.js";
import { startFakeModel, type ScriptedTurn } from "../test/support/fake-model.js";

const TURNS = 20;

const step = (i: number): ScriptedTurn => {
  if (i === TURNS - 1) return { content: [{ type: "tool_use", name: "report_outcome", input: { outcome: "succeeded", summary: "Done." } }] };
  const tools = [
    { name: "view", input: { path: `src/file-${i}.ts` } },
    { name: "grep", input: { pattern: `return ${i};`, include: "src/*.ts" } },
    { name: "edit_file", input: { path: `src/file-${i}.ts`, old_text: `export function f${i}() {\n  return ${i}; // TODO\n}\nexport`, new_text: `export function f${i}() {\n  return ${i};\n}\nexport` } },
    { name: "glob", input: { pattern: "src/file-1*.ts" } },
  ];
  const tool = tools[i % tools.length]!;
  return { content: [{ type: "text", text: `Step ${i + 1}.` }, { type: "tool_use", ...tool }] };
};

const warm = await startFakeModel(() => step(TURNS - 1));
await new Anthropic({ apiKey: "test-model-key", baseURL: warm.url, maxRetries: 0 }).messages.create({ model: "claude-bench", max_tokens: 16, messages: [{ role: "user", content: "Hello." }] });
await warm.close();
prepareMatchers();
await new Promise((resolve) => setTimeout(resolve, 500));

interface Round {
  loopMs: number;
  loopCpuMs: number;
  bareMs: number;
  bareCpuMs: number;
  result: Awaited<ReturnType<typeof runAgentLoop>>;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};

async function round(n: number): Promise<Round> {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-bench-agent-")));
  await mkdir(join(root, "src"));
  for (let i = 0; i < 200; i++) await writeFile(join(root, "src", `file-${i}.ts`), `export function f${i}() {\n  return ${i}; // TODO\n}\n`.repeat(5));
  const model = await startFakeModel((index) => step(index));
  const client = new Anthropic({ apiKey: "test-model-key", baseURL: model.url, maxRetries: 0 });
  const store = new SqliteStore(join(root, "routines.db"));
  const runId = `run_0000000000000000000${n}`;
  await store.insertRun({
    id: runId, routine: "bench", repository: { owner: "acme", repo: "bench" }, installationId: 1, configSha: "sha",
    trigger: { kind: "manual", user: "bench" }, context: { withoutSecrets: false }, status: "queued", createdAt: new Date(),
  });
  const redact = createRedactor(["bench-secret-value-0123456789", "another-secret-value-9876543210"]);
  let started = performance.now();
  let cpu = process.cpuUsage();
  const result = await runAgentLoop({
    client,
    model: "claude-bench",
    system: "You are a careful engineer. ".repeat(200),
    prompt: "Remove the TODO markers.",
    tools: WORKSPACE_TOOLS,
    maxTurns: TURNS,
    timeoutMs: 60_000,
    maxOutputTokens: 4096,
    toolContext: { root, env: commandEnvironment({ home: root, secrets: {} }) },
    record: async (kind, data) => void (await store.appendEvent(runId, kind, redact(data))),
  });
  const loopMs = performance.now() - started;
  const loopCpuMs = cpuMs(cpu);

  // Baseline: replay the very requests the loop sent, with the SDK alone, read to their last event.
  const sent = model.requests.map((request) => request.body);
  const replay = await startFakeModel((index) => step(index));
  const bare = new Anthropic({ apiKey: "test-model-key", baseURL: replay.url, maxRetries: 0 });
  started = performance.now();
  cpu = process.cpuUsage();
  for (const { stream: _streamed, ...body } of sent) await bare.messages.stream(body).finalMessage();
  const bareMs = performance.now() - started;
  const bareCpuMs = cpuMs(cpu);
  await model.close();
  await replay.close();
  await store.close();
  return { loopMs, loopCpuMs, bareMs, bareCpuMs, result };
}

const rounds: Round[] = [];
for (let n = 0; n < 3; n++) rounds.push(await round(n));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
const perTurn = (pick: (r: Round) => number) => median(rounds.map(pick)) / TURNS;
const { result } = rounds[0]!;
const { usage } = result;
const input = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
console.log(`bench/agent: a ${result.turns}-turn scripted session (${result.stopReason}) against the fake Messages API on loopback, median of 3`);
console.log(`  wall time  SDK alone, same requests : ${perTurn((r) => r.bareMs).toFixed(2)} ms per turn`);
console.log(`             agent loop with tools    : ${perTurn((r) => r.loopMs).toFixed(2)} ms per turn (${median(rounds.map((r) => r.loopMs / r.bareMs)).toFixed(2)}x the SDK alone)`);
console.log(`  server CPU SDK alone, same requests : ${perTurn((r) => r.bareCpuMs).toFixed(2)} ms per turn`);
console.log(`             agent loop with tools    : ${perTurn((r) => r.loopCpuMs).toFixed(2)} ms per turn (${median(rounds.map((r) => r.loopCpuMs / r.bareCpuMs)).toFixed(2)}x the SDK alone)`);
console.log(`  the harness's own work: ${perTurn((r) => r.loopCpuMs - r.bareCpuMs).toFixed(2)} ms of the server's CPU per turn (target <= 5), ${perTurn((r) => r.loopMs - r.bareMs).toFixed(2)} ms of wall time, tools' child processes included`);
console.log(`  input tokens read from the cache: ${((usage.cacheReadTokens / input) * 100).toFixed(1)}% (${usage.cacheReadTokens} of ${input})`);
