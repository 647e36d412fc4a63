// The added start-up time of a sandboxed command: `true` run through the sandbox of a network
// policy, against the same command run by plain bash, in the same run.
import { mkdtemp, realpath } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Environment } from "../src/config/schema.js";
import { createRunDirectory } from "../src/session/run-directory.js";
import { unsandboxed, type Launcher } from "../src/session/launch.js";
import { sandboxLauncher } from "../src/session/sandbox.js";
import { shell } from "../src/session/tools/shell.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const root = await realpath(await mkdtemp(join(tmpdir(), "routines-bench-sandbox-")));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root };

async function median(launch: Launcher): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = await shell.run({ command: "true" }, { root, env, signal: new AbortController().signal, launch });
    if (result.isError) throw new Error(result.output);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const plain = await median(unsandboxed);
const run = await createRunDirectory();
const sandboxed = await median(await sandboxLauncher(Environment.parse({ network: "trusted" }), { writable: [root], hidden: [], tmp: run.tmp, state: run.sandbox, sockets: run.sockets }));
console.log(`bench/sandbox: \`true\` run ${RUNS} times, median`);
console.log(`  plain bash             : ${plain.toFixed(1)} ms`);
console.log(`  sandboxed (trusted)    : ${sandboxed.toFixed(1)} ms (+${(sandboxed - plain).toFixed(1)} ms)`);
console.log(`  ratio (sandboxed/plain): ${(sandboxed / plain).toFixed(1)}x`);
await run.remove();
