// The harness's own cost per turn, and how much of the input the prompt cache serves, over a
// 20-turn scripted session against the fake Messages API on loopback, its transcript redacted and
// written to the SQLite store as a server does. Baseline in the same run: the same 20 requests
// streamed with the SDK alone (as the loop streams them: the SDK refuses a non-streaming call whose
// max_tokens could outlast ten minutes), without tools, transcript or loop.
//
// Both are measured as a running server would run them: one request is sent with the SDK before
// either is timed (the process's first request loads and compiles the HTTP stack, ~50-150 ms
// once), and the search workers a server keeps between runs are started first (~20-40 ms each,
// once per process).
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
const root = await realpath(await mkdtemp(join(tmpdir(), "routines-bench-agent-")));
await mkdir(join(root, "src"));
for (let i = 0; i < 200; i++) await writeFile(join(root, "src", `file-${i}.ts`), `export function f${i}() {\n  return ${i}; // TODO\n}\n`.repeat(5));

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

const model = await startFakeModel((index) => step(index));
const client = new Anthropic({ apiKey: "test-model-key", baseURL: model.url, maxRetries: 0 });
const warm = await startFakeModel(() => step(TURNS - 1));
await new Anthropic({ apiKey: "test-model-key", baseURL: warm.url, maxRetries: 0 }).messages.create({ model: "claude-bench", max_tokens: 16, messages: [{ role: "user", content: "Hello." }] });
await warm.close();
prepareMatchers();
await new Promise((resolve) => setTimeout(resolve, 500));

const store = new SqliteStore(join(root, "routines.db"));
const runId = "run_00000000000000000000";
await store.insertRun({
  id: runId, routine: "bench", repository: { owner: "acme", repo: "bench" }, installationId: 1, configSha: "sha",
  trigger: { kind: "manual", user: "bench" }, context: { withoutSecrets: false }, status: "queued", createdAt: new Date(),
});
const redact = createRedactor(["bench-secret-value-0123456789", "another-secret-value-9876543210"]);
let started = performance.now();
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
const harnessMs = performance.now() - started;

// Baseline: replay the very requests the loop sent, with the SDK alone, read to their last event.
const sent = model.requests.map((request) => request.body);
const replay = await startFakeModel((index) => step(index));
const bare = new Anthropic({ apiKey: "test-model-key", baseURL: replay.url, maxRetries: 0 });
started = performance.now();
for (const { stream: _streamed, ...body } of sent) await bare.messages.stream(body).finalMessage();
const bareMs = performance.now() - started;
await model.close();
await replay.close();
await store.close();

const { usage } = result;
const input = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
console.log(`bench/agent: a ${result.turns}-turn scripted session (${result.stopReason}) against the fake Messages API on loopback`);
console.log(`  SDK alone, same requests : ${(bareMs / TURNS).toFixed(2)} ms per turn`);
console.log(`  agent loop with tools    : ${(harnessMs / TURNS).toFixed(2)} ms per turn`);
console.log(`  ratio (loop / SDK alone) : ${(harnessMs / bareMs).toFixed(2)}x; the harness's own time: ${((harnessMs - bareMs) / TURNS).toFixed(2)} ms per turn`);
console.log(`  input tokens read from the cache: ${((usage.cacheReadTokens / input) * 100).toFixed(1)}% (${usage.cacheReadTokens} of ${input})`);
