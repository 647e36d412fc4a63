// What one run's commands (shell, setup script, stdio connectors) may use, so that a run cannot
// take the server or other runs down with it: processes at once, memory, and disk.
//
// Where the host delegates a control group (run-cgroup.ts) each run gets one: the kernel refuses
// processes past the cap and kills within the run past its memory, counting only that run. A
// watcher reads the group's counters and the run directory's size every few seconds and stops the
// run, with the limit in its reason, once one was crossed. Without a control group the caps are
// per process, and weaker: RLIMIT_NPROC inside the sandbox's user namespace (it counts that
// namespace's processes, but the kernel does not enforce it for root), RLIMIT_DATA for memory.
// RLIMIT_FSIZE caps any one file at the disk cap everywhere; the watcher sees the rest.
import { formatBytes } from "../config/limits.js";
import { diskUsage } from "./disk-usage.js";
import { withinLimits, type Launcher } from "./launch.js";
import type { CgroupRoot, RunCgroup } from "./run-cgroup.js";

export interface RunLimits {
  /** Processes and threads at once (ROUTINES_RUN_MAX_PROCESSES). */
  maxProcesses: number;
  /** Bytes of memory, all the run's processes together where a control group counts them (ROUTINES_RUN_MAX_MEMORY). */
  maxMemory: number;
  /** Bytes of disk in the run's directory: working trees, HOME, temporary files (ROUTINES_RUN_MAX_DISK). */
  maxDisk: number;
}

export interface LimitSetting extends RunLimits {
  /** Where runs get control groups, when the host delegates them. */
  cgroups?: CgroupRoot;
}

export class RunLimitError extends Error {
  override name = "RunLimitError";
}

/** "4 GB", "500 MB". */
export function formatSize(bytes: number): string {
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB` : formatBytes(bytes);
}

export const limitMessages = {
  processes: (limits: RunLimits) =>
    `the run's commands tried to run more than ${limits.maxProcesses} processes and threads at once; the operator sets this limit with ROUTINES_RUN_MAX_PROCESSES`,
  memory: (limits: RunLimits) =>
    `the run's commands used more than ${formatSize(limits.maxMemory)} of memory, and the kernel stopped one of them; the operator sets this limit with ROUTINES_RUN_MAX_MEMORY`,
  disk: (limits: RunLimits, used: number) =>
    `the run used more than ${formatSize(limits.maxDisk)} of disk (${formatSize(used)} in its working tree, HOME and temporary files); the operator sets this limit with ROUTINES_RUN_MAX_DISK`,
};

/** How often the watcher looks: after each look, this long. */
const WATCH_INTERVAL_MS = 2_000;

export interface Confinement {
  /** The run's signal: aborted, with a RunLimitError as its reason, when a limit was crossed; and whenever the given signal is. */
  signal: AbortSignal;
  /** The limit the run crossed, if it did. */
  exceeded(): RunLimitError | undefined;
  /**
   * Looks now, without waiting for the watcher (after a command, at the end of the run): the limit
   * crossed, if one was. The disk only when the watcher has not measured it within its interval.
   */
  check(): Promise<RunLimitError | undefined>;
  /** Commands of `launch` start confined; `sandboxed` says whether it runs them in the sandbox's user namespace. */
  launcher(launch: Launcher, sandboxed: boolean): Launcher;
  /** Stops watching, kills whatever is left in the run's control group and removes it. */
  close(): Promise<void>;
}

/** Confines one run whose files are all under `directory`. */
export async function confineRun(setting: LimitSetting, directory: string, options: { signal?: AbortSignal; intervalMs?: number } = {}): Promise<Confinement> {
  const limits: RunLimits = { maxProcesses: setting.maxProcesses, maxMemory: setting.maxMemory, maxDisk: setting.maxDisk };
  const cgroup: RunCgroup | undefined = setting.cgroups ? await setting.cgroups.create(limits) : undefined;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let exceeded: RunLimitError | undefined;
  const exceed = (message: string) => {
    exceeded ??= new RunLimitError(message);
    controller.abort(exceeded);
  };

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> = Promise.resolve();
  const intervalMs = options.intervalMs ?? WATCH_INTERVAL_MS;
  let measuredAt = 0;
  // The counters cost nothing to read; du walks the tree, so a look between two of the watcher's reads it only once.
  const look = async (always: boolean) => {
    if (cgroup) {
      const events = await cgroup.events();
      if (events.processRefusals > 0) return exceed(limitMessages.processes(limits));
      if (events.memoryKills > 0) return exceed(limitMessages.memory(limits));
    }
    if (!always && Date.now() - measuredAt < intervalMs) return;
    const used = await diskUsage(directory).catch(() => undefined);
    measuredAt = Date.now();
    if (used !== undefined && used > limits.maxDisk) exceed(limitMessages.disk(limits, used));
  };
  const schedule = () => {
    if (closed || exceeded) return;
    timer = setTimeout(() => {
      looking = look(true).catch(() => undefined).finally(schedule);
    }, intervalMs);
  };
  schedule();

  const kib = (bytes: number) => String(Math.max(1, Math.floor(bytes / 1024)));
  return {
    signal,
    exceeded: () => exceeded,
    async check() {
      await looking;
      if (!exceeded && !closed) {
        looking = look(false).catch(() => undefined);
        await looking;
      }
      return exceeded;
    },
    launcher(launch, sandboxed) {
      // bash's ulimit -f counts 1024-byte blocks, -d KiB.
      const ulimit = ["-f", kib(limits.maxDisk), ...(cgroup ? [] : ["-d", kib(limits.maxMemory)])];
      // RLIMIT_NPROC counts per user: outside a user namespace of its own, the server's processes would count too.
      const inside = sandboxed && !cgroup ? `ulimit -HSu ${limits.maxProcesses} || exit 126; ` : "";
      return (command) => withinLimits(launch(inside + command), { cgroupProcs: cgroup?.procs ?? [], ulimit });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await looking;
      await cgroup?.remove();
    },
  };
}
