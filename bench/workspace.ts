// Working trees: a cold checkout (empty cache) and a warm one (cache already fetched) with
// isomorphic-git, against native `git clone --depth 1` of the same repository in the same run.
// The repository (a few thousand files) is served over smart HTTP on loopback. Last, the bytes a
// push of a one-line change to a new branch sends: a few KB, where the whole tree would be ~200 KB.
import { execFile } from "node:child_process";
import { appendFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { ProbotOctokit } from "probot";
import { commitChanges, pushHead } from "../src/session/git-publish.js";
import { DEFAULT_MAX_GITHUB_WRITES, GitHubWrites } from "../src/session/github-writes.js";
import { createRedactor } from "../src/session/redact.js";
import { Workspaces } from "../src/session/workspace.js";
import { createServedRepository, run, startGitServer } from "../test/support/git-server.js";

const FILES = Number(process.env.BENCH_FILES ?? 3000);
const TOKEN = "ghs_bench_token";
const ROUNDS = 3;

const server = await startGitServer(TOKEN);
const files = Object.fromEntries(
  Array.from({ length: FILES }, (_, i) => [`src/module-${Math.floor(i / 100)}/file-${i}.ts`, `export const value${i} = ${i};\n// ${"x".repeat(200 + (i % 500))}\n`]),
);
await createServedRepository(server, "acme", "big", files);
const url = `${server.url}/acme/big.git`;
const spec = { repository: { owner: "acme", repo: "big" }, url, defaultBranch: "main" };

const time = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};
const best = (values: number[]) => Math.min(...values);

const native: number[] = [];
const cold: number[] = [];
const warm: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const target = await mkdtemp(join(tmpdir(), "routines-bench-native-"));
  const authenticated = url.replace("http://", `http://x-access-token:${TOKEN}@`);
  native.push(await time(() => promisify(execFile)("git", ["clone", "-q", "--depth", "1", authenticated, join(target, "big")])));
  await rm(target, { recursive: true, force: true });

  const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-bench-cache-")));
  let workspace = await (async () => {
    let made: Awaited<ReturnType<Workspaces["checkout"]>> | undefined;
    cold.push(await time(async () => (made = await workspaces.checkout(spec, TOKEN))));
    return made!;
  })();
  await workspace.remove();
  warm.push(await time(async () => (workspace = await workspaces.checkout(spec, TOKEN))));
  await workspace.remove();
}

// A one-line change pushed to a new claude/ branch, weighed as the pack the server kept.
const bare = join(server.root, "acme", "big.git");
await run(bare, "config", "receive.unpackLimit", "1");
const packBytes = async () => {
  const packs = (await readdir(join(bare, "objects", "pack"))).filter((name) => name.endsWith(".pack"));
  return (await Promise.all(packs.map(async (name) => (await stat(join(bare, "objects", "pack", name))).size))).reduce((sum, size) => sum + size, 0);
};
const workspace = await new Workspaces(await mkdtemp(join(tmpdir(), "routines-bench-cache-"))).checkout(spec, TOKEN);
const github = {
  octokit: new ProbotOctokit(),
  token: TOKEN,
  repository: spec.repository,
  dir: workspace.dir,
  url,
  defaultBranch: "main",
  startCommit: workspace.head,
  routine: "bench",
  runId: "bench",
  allowUnrestrictedBranchPushes: false,
  author: { name: "bench", email: "bench@example.com" },
  redact: createRedactor([]),
  writes: new GitHubWrites(DEFAULT_MAX_GITHUB_WRITES),
};
await appendFile(join(workspace.dir, "src/module-0/file-0.ts"), "// one more line\n");
await commitChanges(github, "One line");
const stored = await packBytes();
await pushHead(github, "claude/bench-one-line", "One line");
const pushed = (await packBytes()) - stored;
await workspace.remove();
await server.close();

const ms = (value: number) => `${value.toFixed(0)} ms`;
console.log(`bench/workspace: a repository of ${FILES} files over smart HTTP on loopback, best of ${ROUNDS}`);
console.log(`  native git clone --depth 1 : ${ms(best(native))}`);
console.log(`  cold checkout (empty cache): ${ms(best(cold))}`);
console.log(`  warm checkout (cache kept) : ${ms(best(warm))}`);
console.log(`  ratio to native: cold ${(best(cold) / best(native)).toFixed(2)}x, warm ${(best(warm) / best(native)).toFixed(2)}x`);
console.log(`  push of a one-line change  : ${pushed} bytes (a new claude/ branch)`);
