import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openCgroups } from "../../src/session/run-cgroup.js";

const trees: string[] = [];
afterEach(async () => {
  await Promise.all(trees.splice(0).map((tree) => rm(tree, { recursive: true, force: true })));
});

/** A directory standing for a cgroup filesystem, with the files the kernel would show. */
async function fakeTree(files: Record<string, string>): Promise<string> {
  const tree = await mkdtemp(join(tmpdir(), "routines-cgroup-"));
  trees.push(tree);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(tree, path, ".."), { recursive: true });
    await writeFile(join(tree, path), text);
  }
  return tree;
}

describe("control groups for runs", () => {
  it("cgroup v2: makes run groups under the server's own cgroup with its process cap, memory cap and no swap, and reads their counters", async () => {
    const tree = await fakeTree({ "system.slice/routines.service/cgroup.controllers": "cpu io memory pids\n", "system.slice/routines.service/cgroup.subtree_control": "", "system.slice/routines.service/cgroup.procs": "" });
    const opened = await openCgroups({ mountinfo: `30 23 0:26 / ${tree} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`, cgroup: "0::/system.slice/routines.service\n", pid: 1234 });
    if (!("root" in opened)) throw new Error(opened.reason);
    const service = join(tree, "system.slice/routines.service");
    expect(opened.root.description).toBe(`cgroup v2 under ${service}/routines-runs`);
    expect(await readFile(join(service, "cgroup.subtree_control"), "utf8")).toBe("+pids +memory");

    const group = await opened.root.create({ maxProcesses: 300, maxMemory: 512 * 1024 * 1024 });
    expect(group.procs).toHaveLength(1);
    const dir = join(group.procs[0]!, "..");
    expect(dir).toMatch(new RegExp(`^${service}/routines-runs/run-${process.pid}-\\w+$`));
    expect(await readFile(join(dir, "pids.max"), "utf8")).toBe("300");
    expect(await readFile(join(dir, "memory.max"), "utf8")).toBe(String(512 * 1024 * 1024));
    expect(await readFile(join(dir, "memory.swap.max"), "utf8")).toBe("0");
    expect(await group.events()).toEqual({ processRefusals: 0, memoryKills: 0 });
    await writeFile(join(dir, "pids.events"), "max 7\n");
    await writeFile(join(dir, "memory.events"), "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\n");
    expect(await group.events()).toEqual({ processRefusals: 7, memoryKills: 1 });
  });

  it("cgroup v2 without the pids and memory controllers offers none, and says why", async () => {
    const tree = await fakeTree({ "cgroup.controllers": "cpu io\n" });
    expect(await openCgroups({ mountinfo: `30 23 0:26 / ${tree} rw - cgroup2 cgroup2 rw\n`, cgroup: "0::/\n", pid: 1 })).toEqual({
      reason: "cgroup v2: the server's cgroup / offers no pids and memory controllers; no cgroup v1 pids hierarchy",
    });
  });

  it("cgroup v1: makes a run group in the pids and the memory hierarchy, under the server's own groups there", async () => {
    const tree = await fakeTree({ "pids/.keep": "", "memory/.keep": "" });
    const mountinfo = [`39 31 0:36 / ${tree}/pids rw - cgroup cgroup rw,pids`, `35 31 0:32 / ${tree}/memory rw - cgroup cgroup rw,memory`, `41 31 0:38 / ${tree}/unified rw - cgroup2 cgroup2 rw`].join("\n");
    const opened = await openCgroups({ mountinfo, cgroup: "8:pids:/\n4:memory:/jobs/42\n0::/\n", pid: 1 });
    if (!("root" in opened)) throw new Error(opened.reason);
    const group = await opened.root.create({ maxProcesses: 64, maxMemory: 128 * 1024 * 1024 });
    const [pids, memory] = group.procs.map((procs) => join(procs, ".."));
    expect(pids).toMatch(new RegExp(`^${tree}/pids/routines-runs/run-${process.pid}-\\w+$`));
    expect(memory).toBe(join(tree, "memory/jobs/42/routines-runs", pids!.split("/").at(-1)!));
    expect(await readFile(join(pids!, "pids.max"), "utf8")).toBe("64");
    expect(await readFile(join(memory!, "memory.limit_in_bytes"), "utf8")).toBe(String(128 * 1024 * 1024));
    await writeFile(join(pids!, "pids.events"), "max 2\n");
    await writeFile(join(memory!, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    expect(await group.events()).toEqual({ processRefusals: 2, memoryKills: 3 });
  });

  it("a mount of a container's own cgroup: paths are taken relative to the mount's root", async () => {
    const tree = await fakeTree({ "cgroup.controllers": "memory pids\n", "cgroup.subtree_control": "memory pids\n" });
    const opened = await openCgroups({ mountinfo: `30 23 0:26 /docker/abc ${tree} rw - cgroup2 cgroup2 rw\n`, cgroup: "0::/docker/abc\n", pid: 1 });
    expect("root" in opened && opened.root.description).toBe(`cgroup v2 under ${tree}/routines-runs`);
  });
});
