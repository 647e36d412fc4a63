// Attacks on the server's resources through the built server: a run's command forks without end,
// holds more memory than the operator allows a run, or fills the disk. Each must stop its own run,
// with the limit in the run's reason (its check run's title), while another run and /healthz go on.
// The caps are made small through the operator's settings so that the attacks stay small. The
// server is put in a control group of the test's own (when the host lets the test make one), so
// that even a server without limits cannot take the machine down: a fork bomb and the memory hog
// run only then; the disk filler always.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, sleep, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const random = () => randomBytes(8).toString("hex");
const MB = 1024 * 1024;
/** The operator's caps for this server's runs. */
const CAPS = { ROUTINES_RUN_MAX_PROCESSES: "64", ROUTINES_RUN_MAX_MEMORY: "256MB", ROUTINES_RUN_MAX_DISK: "50MB" };
/** The test's own bound around the whole server: far above the caps, far below what the machine has. */
const BOUND = { processes: 400, memory: 1536 * MB };

let world: World;
let server: ServerProcess;
let bound: { groups: string[] } | undefined;

/**
 * A control group that bounds the whole server, with everything it starts: cgroup v2 at the root of
 * the hierarchy, or cgroup v1's pids and memory hierarchies. Undefined when the host offers neither
 * to this process.
 */
async function boundServer(pid: number): Promise<{ groups: string[] } | undefined> {
  const name = `routines-attack-${random()}`;
  try {
    const controllers = await readFile("/sys/fs/cgroup/cgroup.subtree_control", "utf8").catch(() => "");
    if (controllers.includes("pids") && controllers.includes("memory")) {
      const group = join("/sys/fs/cgroup", name);
      await mkdir(group);
      await writeFile(join(group, "pids.max"), String(BOUND.processes));
      await writeFile(join(group, "memory.max"), String(BOUND.memory));
      await writeFile(join(group, "cgroup.procs"), String(pid));
      return { groups: [group] };
    }
    const own = await readFile("/proc/self/cgroup", "utf8");
    const pathOf = (controller: string) => own.split("\n").map((line) => line.split(":")).find(([, list]) => list?.split(",").includes(controller))?.[2];
    const [pidsPath, memoryPath] = [pathOf("pids"), pathOf("memory")];
    if (pidsPath === undefined || memoryPath === undefined || !existsSync("/sys/fs/cgroup/pids/cgroup.procs")) return undefined;
    const pids = join("/sys/fs/cgroup/pids", pidsPath, name);
    const memory = join("/sys/fs/cgroup/memory", memoryPath, name);
    await mkdir(pids);
    await mkdir(memory);
    await writeFile(join(pids, "pids.max"), String(BOUND.processes));
    await writeFile(join(memory, "memory.limit_in_bytes"), String(BOUND.memory));
    await writeFile(join(pids, "cgroup.procs"), String(pid));
    await writeFile(join(memory, "cgroup.procs"), String(pid));
    return { groups: [pids, memory] };
  } catch {
    return undefined;
  }
}

const REPOSITORIES = ["acme/bomb", "acme/hog", "acme/filler", "acme/neighbour"];

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(61, "acme");
  for (const repository of REPOSITORIES) {
    await world.github.addRepository(repository, 61, {
      "README.md": "# limits\n",
      ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", timeout: "5m", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
    });
  }
  server = await world.startServer({ extra: CAPS });
  bound = await boundServer(server.pid!);
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
  server?.killGroup();
  for (const group of bound?.groups ?? []) await removeGroup(group);
});

/** Kills what is left in a control group and removes it, with the groups the server made inside it. */
async function removeGroup(group: string): Promise<void> {
  for (const entry of await readdir(group, { withFileTypes: true }).catch(() => [])) if (entry.isDirectory()) await removeGroup(join(group, entry.name));
  await eventually(
    async () => {
      for (const member of (await readFile(join(group, "cgroup.procs"), "utf8").catch(() => "")).split("\n").filter(Boolean)) {
        try {
          process.kill(Number(member), "SIGKILL");
        } catch {
          // gone
        }
      }
      return rmdir(group).then(
        () => true,
        (error: NodeJS.ErrnoException) => error.code === "ENOENT",
      );
    },
    { what: `${group} to empty`, timeoutMs: 10_000 },
  ).catch(() => undefined);
}

let pulls = 0;
/** Opens a pull request on `repository` whose run runs `command` in the shell, then reports its outcome. */
async function runCommandIn(repository: string, command: string, timeoutSeconds = 60) {
  const marker = `[limits-${++pulls}]`;
  const branch = `limits/${pulls}`;
  await world.github.commit(repository, branch, { "README.md": `# limits ${pulls}\n` });
  const pull = await world.github.openPullRequest(repository, { head: branch, title: `Change ${marker}`, user: "mallory" });
  world.model.session(marker, (turn) => (turn === 0 ? call("shell", { command, timeout_seconds: timeoutSeconds }) : outcome("Done.")));
  await server.deliver("pull_request", await pullRequestEvent(world.github, repository, pull.number, "opened"));
  const head = await world.github.sha(repository, `refs/heads/${branch}`);
  return {
    marker,
    started: () => eventually(() => world.model.sessionRequests(marker).length > 0, { what: `the run on ${repository} to start` }),
    check: () => eventually(() => world.github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: `the run on ${repository} to end`, timeoutMs: 110_000 }),
    /** What the shell tool returned to the model, if it returned. */
    toolResult: () => JSON.stringify(world.model.sessionRequests(marker)[1]?.body.messages.at(-1) ?? ""),
  };
}

/** Whether /healthz answers 200 within a second. */
async function healthy(): Promise<boolean> {
  const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
  return response?.status === 200;
}

/** Whether the server runs its runs without a control group (it says so at start): then processes and memory are capped per process only. */
const withoutCgroups = () => /no control group for runs/.test(server.output());

describe("a run's resources", () => {
  it("a fork bomb stops its own run, naming the process limit, while another run and /healthz go on", async (context) => {
    if (!bound || withoutCgroups()) context.skip();
    const bomb = await runCommandIn("acme/bomb", "bomb() { bomb | bomb & }; bomb; sleep 30", 30);
    await bomb.started();
    await sleep(1_000);
    const alive = `alive-${random()}`;
    const neighbour = await runCommandIn("acme/neighbour", `echo ${alive}`);
    expect(await healthy()).toBe(true);
    const [bombCheck, neighbourCheck] = await Promise.all([bomb.check(), neighbour.check()]);
    expect(await healthy()).toBe(true);
    // The neighbour's command ran, and printed.
    expect(neighbour.toolResult()).toContain(alive);
    expect(neighbourCheck.conclusion).toBe("success");
    expect({ conclusion: bombCheck.conclusion, title: bombCheck.output?.title }).toEqual({
      conclusion: "failure",
      title: expect.stringContaining("the run's commands tried to run more than 64 processes and threads at once; the operator sets this limit with ROUTINES_RUN_MAX_PROCESSES"),
    });
  });

  it("a memory hog stops its own run, naming the memory limit", async (context) => {
    if (!bound || withoutCgroups()) context.skip();
    // 600 MB, every page written: more than the run's 256 MB, within the test's bound.
    const hog = await runCommandIn("acme/hog", `node -e 'const held = Buffer.alloc(600 * 1024 * 1024, 1); console.log("held", held.length / 1048576, "MB"); setTimeout(() => {}, 5000)'`);
    const check = await hog.check();
    expect(await healthy()).toBe(true);
    expect(hog.toolResult()).not.toContain("held 600 MB");
    expect({ conclusion: check.conclusion, title: check.output?.title }).toEqual({
      conclusion: "failure",
      title: expect.stringContaining("the run's commands used more than 256 MB of memory, and the kernel stopped one of them; the operator sets this limit with ROUTINES_RUN_MAX_MEMORY"),
    });
  });

  it("a disk filler stops its own run, naming the disk limit", async () => {
    // 200 MB in files of 10 MB: no one file is over the cap, all of them are.
    const filler = await runCommandIn("acme/filler", "for i in $(seq 20); do head -c 10485760 /dev/zero > fill-$i || exit; done; du -sm .; sleep 20");
    const check = await filler.check();
    expect(await healthy()).toBe(true);
    expect({ conclusion: check.conclusion, title: check.output?.title }).toEqual({
      conclusion: "failure",
      title: expect.stringMatching(/the run used more than 50 MB of disk \([\d.]+ MB in its working tree, HOME and temporary files\); the operator sets this limit with ROUTINES_RUN_MAX_DISK/),
    });
  });
});
