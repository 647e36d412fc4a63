// The added cost of a sandboxed command: `true` run through the shell tool in a run's sandbox
// (network: trusted, its proxies and all), against the same command run by plain bash, in the
// same run. The sandbox starts once per run and is started before the commands are timed, as a
// run starts it before its first command; its start is reported apart. Three rounds; the figure
// is the median round. Target: sandboxed ≤ 1.5 × plain + 20 ms.
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Environment } from "../src/config/schema.js";
import { createRunDirectory } from "../src/session/run-directory.js";
import type { CommandRunner } from "../src/session/run-command.js";
import { commandPrograms, sandboxLauncher } from "../src/session/sandbox.js";
import { sandboxShell } from "../src/session/sandbox-shell.js";
import { shell } from "../src/session/tools/shell.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const ROUNDS = 3;
const root = await realpath(await mkdtemp(join(tmpdir(), "routines-bench-sandbox-")));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root };

async function median(commands?: CommandRunner): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = await shell.run({ command: "true" }, { root, env, signal: new AbortController().signal, ...(commands ? { commands } : {}) });
    if (result.isError) throw new Error(result.output);
    times.push(performance.now() - started);
  }
  return middle(times);
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const run = await createRunDirectory();
const launch = await sandboxLauncher(Environment.parse({ network: "trusted" }), { writable: [root], hidden: [], tmp: run.tmp, state: run.sandbox, sockets: run.sockets });
const rounds: { plain: number; sandboxed: number; start: number }[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const plain = await median();
  // A new run's sandbox each round: its start (proxies, bubblewrap, dispatcher) is the first command's wait.
  const commands = sandboxShell({ launch, cwd: root, env, programs: commandPrograms() });
  const startedAt = performance.now();
  const first = await commands.run({ command: "true", cwd: root, timeoutMs: 60_000, timeoutReason: "timed out" });
  if (first.code !== 0) throw new Error(`the sandbox did not start: ${first.output}`);
  const start = performance.now() - startedAt;
  const sandboxed = await median(commands);
  await commands.close();
  rounds.push({ plain, sandboxed, start });
}

const ratio = (round: { plain: number; sandboxed: number }) => round.sandboxed / round.plain;
const figure = [...rounds].sort((a, b) => ratio(a) - ratio(b))[Math.floor(ROUNDS / 2)]!;
const target = 1.5 * figure.plain + 20;
console.log(`bench/sandbox: \`true\` run ${RUNS} times per round, median; ${ROUNDS} rounds, the median round`);
for (const [index, round] of rounds.entries()) {
  console.log(`  round ${index + 1}: plain ${round.plain.toFixed(1)} ms, sandboxed ${round.sandboxed.toFixed(1)} ms, ratio ${ratio(round).toFixed(2)}x (sandbox start ${round.start.toFixed(0)} ms, once per run)`);
}
console.log(`  plain bash             : ${figure.plain.toFixed(1)} ms`);
console.log(`  sandboxed (trusted)    : ${figure.sandboxed.toFixed(1)} ms (+${(figure.sandboxed - figure.plain).toFixed(1)} ms)`);
console.log(`  ratio (sandboxed/plain): ${ratio(figure).toFixed(2)}x`);
console.log(`  target (1.5 x plain + 20 ms = ${target.toFixed(1)} ms): ${figure.sandboxed <= target ? "met" : "NOT met"}`);
await run.remove();
await rm(root, { recursive: true, force: true });
