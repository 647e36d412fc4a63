// A control group per run: the kernel's own count of a run's processes and memory, which the run's
// commands cannot leave and which no other process shares (RLIMIT_NPROC counts per user, the
// server's user included). Found at start under the server's own cgroup, where the host delegates
// one: cgroup v2 with the pids and memory controllers available to the server's cgroup, or cgroup
// v1 with writable pids and memory hierarchies. Docker and Kubernetes mount the cgroup filesystem
// read-only by default: there is none, and run-limits.ts falls back to per-process limits.
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { leftByGoneServer } from "./run-directory.js";

export interface RunCgroup {
  /** The cgroup.procs files a process writes its own id to, to join the run's group (one per hierarchy). */
  procs: string[];
  /** How often the group refused a new process, and how many of its processes the kernel killed for memory, so far. */
  events(): Promise<{ processRefusals: number; memoryKills: number }>;
  /** Kills what is left in the group and removes it. */
  remove(): Promise<void>;
}

export interface CgroupRoot {
  /** Where run groups go, in words for the log. */
  description: string;
  create(limits: { maxProcesses: number; maxMemory: number }): Promise<RunCgroup>;
}

/** What the kernel tells about the server's process: /proc/self/mountinfo and /proc/self/cgroup. */
export interface ProcessCgroups {
  mountinfo: string;
  cgroup: string;
  pid: number;
}

const PARENT = "routines-runs";
const SERVER_LEAF = "routines-server";
const RUN_PREFIX = "run-";

async function readOwn(): Promise<ProcessCgroups> {
  const [mountinfo, cgroup] = await Promise.all([readFile("/proc/self/mountinfo", "utf8"), readFile("/proc/self/cgroup", "utf8")]);
  return { mountinfo, cgroup, pid: process.pid };
}

interface Mount {
  root: string;
  point: string;
  type: string;
  options: string[];
}

function mounts(mountinfo: string): Mount[] {
  return mountinfo.split("\n").flatMap((line) => {
    const [before, after] = line.split(" - ");
    if (!before || !after) return [];
    const fields = before.split(" ");
    const [type, , superOptions] = after.split(" ");
    const unescape = (path: string) => path.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    return [{ root: unescape(fields[3] ?? "/"), point: unescape(fields[4] ?? ""), type: type ?? "", options: (superOptions ?? "").split(",") }];
  });
}

/** The directory of `path` (as /proc/self/cgroup names it) under a mount of its hierarchy. */
function directoryOf(mount: Mount, path: string): string {
  const relative = mount.root !== "/" && (path === mount.root || path.startsWith(`${mount.root}/`)) ? path.slice(mount.root.length) : path;
  return join(mount.point, relative);
}

/** The cgroups runs can get here, or why there are none. */
export async function openCgroups(own?: ProcessCgroups): Promise<{ root: CgroupRoot } | { reason: string }> {
  if (process.platform !== "linux") return { reason: "control groups are Linux's" };
  const found = own ?? (await readOwn().catch(() => undefined));
  if (!found) return { reason: "/proc/self/cgroup cannot be read" };
  const v2 = await unifiedRoot(found);
  if ("root" in v2) return v2;
  const v1 = await legacyRoot(found);
  if ("root" in v1) return v1;
  return { reason: `${v2.reason}; ${v1.reason}` };
}

/** cgroup v2: run groups under `<own>/routines-runs`, with the pids and memory controllers. */
async function unifiedRoot(own: ProcessCgroups): Promise<{ root: CgroupRoot } | { reason: string }> {
  const mount = mounts(own.mountinfo).find((entry) => entry.type === "cgroup2");
  const path = /^0::(.*)$/m.exec(own.cgroup)?.[1];
  if (!mount || path === undefined) return { reason: "no cgroup v2 hierarchy" };
  const dir = directoryOf(mount, path);
  const available = (await readFile(join(dir, "cgroup.controllers"), "utf8").catch(() => "")).split(/\s+/);
  if (!available.includes("pids") || !available.includes("memory")) return { reason: `cgroup v2: the server's cgroup ${path} offers no pids and memory controllers` };
  try {
    await enableControllers(dir, own.pid);
    const parent = join(dir, PARENT);
    await mkdir(parent, { recursive: true });
    await enable(parent);
    await sweep([parent]);
  } catch (error) {
    return { reason: `cgroup v2: the server's cgroup ${path} is not delegated to it (${(error as Error).message})` };
  }
  const parent = join(dir, PARENT);
  return {
    root: {
      description: `cgroup v2 under ${parent}`,
      async create({ maxProcesses, maxMemory }) {
        const group = await newGroup(parent);
        await writeFile(join(group, "pids.max"), String(maxProcesses));
        await writeFile(join(group, "memory.max"), String(maxMemory));
        // Swap would let a run go past its memory while slowing the whole host.
        await writeFile(join(group, "memory.swap.max"), "0").catch(() => undefined);
        return {
          procs: [join(group, "cgroup.procs")],
          events: async () => ({
            processRefusals: counter(await readFile(join(group, "pids.events"), "utf8").catch(() => ""), "max"),
            memoryKills: counter(await readFile(join(group, "memory.events"), "utf8").catch(() => ""), "oom_kill"),
          }),
          remove: () => removeGroups([group]),
        };
      },
    },
  };
}

/**
 * Lets `dir`'s children have the pids and memory controllers. A cgroup v2 with processes of its
 * own cannot: when the server is alone in it (a container's process, a service with Delegate=yes),
 * it moves itself to a leaf first. It never moves other processes.
 */
async function enableControllers(dir: string, pid: number): Promise<void> {
  try {
    await enable(dir);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EBUSY") throw error;
  }
  const members = (await readFile(join(dir, "cgroup.procs"), "utf8")).split("\n").filter(Boolean);
  if (members.some((member) => member !== String(pid))) throw new Error("it holds other processes besides the server");
  const leaf = join(dir, SERVER_LEAF);
  await mkdir(leaf, { recursive: true });
  await writeFile(join(leaf, "cgroup.procs"), String(pid));
  await enable(dir);
}

async function enable(dir: string): Promise<void> {
  const enabled = (await readFile(join(dir, "cgroup.subtree_control"), "utf8").catch(() => "")).split(/\s+/);
  if (enabled.includes("pids") && enabled.includes("memory")) return;
  await writeFile(join(dir, "cgroup.subtree_control"), "+pids +memory");
}

/** cgroup v1: a run group in each of the pids and memory hierarchies, under the server's own groups there. */
async function legacyRoot(own: ProcessCgroups): Promise<{ root: CgroupRoot } | { reason: string }> {
  const parents: Record<"pids" | "memory", string> = { pids: "", memory: "" };
  for (const controller of ["pids", "memory"] as const) {
    const mount = mounts(own.mountinfo).find((entry) => entry.type === "cgroup" && entry.options.includes(controller));
    const path = own.cgroup.split("\n").map((line) => line.split(":")).find(([, controllers]) => controllers?.split(",").includes(controller))?.[2];
    if (!mount || path === undefined) return { reason: `no cgroup v1 ${controller} hierarchy` };
    parents[controller] = join(directoryOf(mount, path), PARENT);
  }
  try {
    for (const parent of Object.values(parents)) await mkdir(parent, { recursive: true });
    await sweep(Object.values(parents));
  } catch (error) {
    return { reason: `cgroup v1: the server cannot make groups (${(error as Error).message})` };
  }
  return {
    root: {
      description: `cgroup v1 under ${parents.pids} and ${parents.memory}`,
      async create({ maxProcesses, maxMemory }) {
        const pids = await newGroup(parents.pids);
        const memory = join(parents.memory, pids.slice(parents.pids.length + 1));
        try {
          await mkdir(memory);
          await writeFile(join(pids, "pids.max"), String(maxProcesses));
          await writeFile(join(memory, "memory.limit_in_bytes"), String(maxMemory));
          // Without swap accounting the file is absent, and there is no swap to limit.
          await writeFile(join(memory, "memory.memsw.limit_in_bytes"), String(maxMemory)).catch(() => undefined);
        } catch (error) {
          await removeGroups([pids, memory]);
          throw error;
        }
        return {
          procs: [join(pids, "cgroup.procs"), join(memory, "cgroup.procs")],
          events: async () => ({
            processRefusals: counter(await readFile(join(pids, "pids.events"), "utf8").catch(() => ""), "max"),
            memoryKills: counter(await readFile(join(memory, "memory.oom_control"), "utf8").catch(() => ""), "oom_kill"),
          }),
          remove: () => removeGroups([pids, memory]),
        };
      },
    },
  };
}

/** A new group under `parent`, named for this server's process so that the next start can tell leftovers. */
async function newGroup(parent: string): Promise<string> {
  const group = join(parent, `${RUN_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  await mkdir(group);
  return group;
}

function counter(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
}

/** Kills every process of the groups, then removes them; a group empties once its processes have exited. */
async function removeGroups(groups: string[]): Promise<void> {
  for (const group of groups) await writeFile(join(group, "cgroup.kill"), "1").catch(() => undefined);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    let left = false;
    for (const group of groups) {
      const members = (await readFile(join(group, "cgroup.procs"), "utf8").catch(() => "")).split("\n").filter(Boolean);
      for (const member of members) {
        try {
          process.kill(Number(member), "SIGKILL");
        } catch {
          // already gone
        }
      }
      try {
        await rmdir(group);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") left = true;
      }
    }
    if (!left) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Removes the groups that servers now gone left behind (a server killed with SIGKILL). */
async function sweep(parents: string[]): Promise<void> {
  const names = new Set((await Promise.all(parents.map((parent) => readdir(parent).catch(() => [])))).flat());
  for (const name of names) {
    if (!leftByGoneServer(name, RUN_PREFIX)) continue;
    await removeGroups(parents.map((parent) => join(parent, name)));
  }
}
