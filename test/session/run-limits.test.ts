import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { unsandboxed, withinLimits } from "../../src/session/launch.js";
import { openCgroups } from "../../src/session/run-cgroup.js";
import { createRunDirectory, type RunDirectory } from "../../src/session/run-directory.js";
import { confineRun, formatSize, RunLimitError, type Confinement } from "../../src/session/run-limits.js";
import { runCommand } from "../../src/session/run-command.js";
import { sandboxLauncher, sandboxSupport } from "../../src/session/sandbox.js";

const MB = 1024 * 1024;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function runDirectory(): Promise<RunDirectory> {
  const root = await mkdtemp(join(tmpdir(), "routines-limits-"));
  const run = await createRunDirectory(root);
  cleanup.push(() => rm(root, { recursive: true, force: true }));
  return run;
}

async function confine(run: RunDirectory, limits: Parameters<typeof confineRun>[0]): Promise<Confinement> {
  const confinement = await confineRun(limits, run.path, { intervalMs: 100 });
  cleanup.push(() => confinement.close());
  return confinement;
}

const run = (command: string, confinement: Confinement, dir: RunDirectory, sandboxed = false) =>
  runCommand({ command, cwd: dir.work, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir.home }, timeoutMs: 60_000, timeoutReason: "timed out", signal: confinement.signal, launch: confinement.launcher(unsandboxed, sandboxed) });

const cgroups = await openCgroups();

describe("a run's limits", () => {
  it("reads sizes as an operator writes them", () => {
    expect([formatSize(4 * 1024 * MB), formatSize(1536 * MB), formatSize(50 * MB), formatSize(2048)]).toEqual(["4 GB", "1.5 GB", "50 MB", "2 KB"]);
  });

  it("stops the run once its directory holds more than the disk cap, naming the cap and the setting", async () => {
    const dir = await runDirectory();
    const confinement = await confine(dir, { maxProcesses: 100, maxMemory: 512 * MB, maxDisk: 20 * MB });
    const result = await run("for i in 1 2 3; do head -c 10485760 /dev/zero > fill-$i; done; sleep 30", confinement, dir);
    expect(result.stopped).toBe("the run was stopped");
    expect(confinement.signal.reason).toBeInstanceOf(RunLimitError);
    expect(confinement.exceeded()?.message).toMatch(/^the run used more than 20 MB of disk \([\d.]+ MB in its working tree, HOME and temporary files\); the operator sets this limit with ROUTINES_RUN_MAX_DISK$/);
  });

  it("caps any one file at the disk cap, and per process memory where no control group counts it", async () => {
    const dir = await runDirectory();
    const confinement = await confine(dir, { maxProcesses: 100, maxMemory: 512 * MB, maxDisk: 20 * MB });
    const result = await run("head -c 31457280 /dev/zero > big; echo exit $?; ulimit -Hf; ulimit -Hd", confinement, dir);
    expect((await stat(join(dir.work, "big"))).size).toBe(20 * MB);
    expect(result.output).toContain(`exit 153\n${(20 * MB) / 1024}\n${(512 * MB) / 1024}`);
  });

  it("leaves a run under its limits alone, and tells the signal it was given", async () => {
    const dir = await runDirectory();
    const outer = new AbortController();
    const confinement = await confineRun({ maxProcesses: 100, maxMemory: 512 * MB, maxDisk: 20 * MB }, dir.path, { signal: outer.signal, intervalMs: 50 });
    cleanup.push(() => confinement.close());
    await writeFile(join(dir.work, "small"), "x".repeat(1000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([await confinement.check(), confinement.signal.aborted]).toEqual([undefined, false]);
    outer.abort(new Error("cancelled"));
    expect(confinement.signal.aborted).toBe(true);
    expect(confinement.exceeded()).toBeUndefined();
  });

  it.runIf("root" in cgroups)("counts a run's processes and memory in a control group of its own, and stops the run past either", async () => {
    const root = "root" in cgroups ? cgroups.root : undefined;
    const dir = await runDirectory();
    const processes = await confine(dir, { maxProcesses: 32, maxMemory: 256 * MB, maxDisk: 100 * MB, cgroups: root! });
    const joined = await run("grep -E 'pids|memory|^0::' /proc/self/cgroup", processes, dir);
    expect(joined.output).toMatch(/routines-runs\/run-\d+-\w+/);
    const bomb = await run("for i in $(seq 100); do sleep 20 & done 2>/dev/null; wait", processes, dir);
    expect(bomb.stopped).toBe("the run was stopped");
    expect(processes.exceeded()?.message).toBe("the run's commands tried to run more than 32 processes and threads at once; the operator sets this limit with ROUTINES_RUN_MAX_PROCESSES");

    const memoryDir = await runDirectory();
    const memory = await confine(memoryDir, { maxProcesses: 64, maxMemory: 128 * MB, maxDisk: 100 * MB, cgroups: root! });
    const hog = await run(`node -e 'const held = Buffer.alloc(400 * 1024 * 1024, 1); console.log("held")'`, memory, memoryDir);
    expect(hog.output).not.toContain("held");
    expect((await memory.check())?.message).toBe("the run's commands used more than 128 MB of memory, and the kernel stopped one of them; the operator sets this limit with ROUTINES_RUN_MAX_MEMORY");
  });

  it("without a control group, caps the processes of a sandboxed command inside its own user namespace, never outside it", async (context) => {
    if (!(await sandboxSupport()).ok) context.skip();
    const dir = await runDirectory();
    const confinement = await confine(dir, { maxProcesses: 50, maxMemory: 1024 * MB, maxDisk: 100 * MB });
    const launch = await sandboxLauncher({ network: "none" }, { writable: [dir.work, dir.home], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
    const sandboxed = await runCommand({ command: "ulimit -Hu", cwd: dir.work, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 60_000, timeoutReason: "timed out", launch: confinement.launcher(launch, true) });
    expect(sandboxed.output.trim().split("\n").at(-1)).toBe("50");
    // Outside a user namespace of its own, RLIMIT_NPROC would count the server's user's processes too.
    const plain = await run("ulimit -Hu", confinement, dir);
    expect(plain.output.trim()).not.toBe("50");
  });
});

describe("a command within limits", () => {
  it("never runs when it cannot join its run's control group", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-limits-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const result = await runCommand({
      command: "echo ran",
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      timeoutMs: 10_000,
      timeoutReason: "timed out",
      launch: (command) => withinLimits(unsandboxed(command), { cgroupProcs: [join(dir, "gone", "cgroup.procs")], ulimit: [] }),
    });
    expect(result).toEqual({ code: 126, output: "routines: the command could not join its run's control group\n" });
  });

  it("starts as it is when there is nothing to apply", () => {
    expect(withinLimits({ file: "bash", args: ["-c", "true"] }, { cgroupProcs: [], ulimit: [] })).toEqual({ file: "bash", args: ["-c", "true"] });
  });
});
