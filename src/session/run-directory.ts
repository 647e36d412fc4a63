// Each run's own directory: its working trees, its HOME, its temporary directory (TMPDIR) and the
// sandbox's own files (settings, proxy sockets), in one directory that only the server's user may enter, removed when
// the run ends. A server that was killed leaves its runs' directories behind; the name carries the
// server's process id, so the next start can tell them from those of a server still running.
// The proxy sockets need a short path (a socket's is at most 107 bytes): when the run's directory
// is too deep for one, they get a short directory of their own under /tmp, named the same way.
import { chmod, mkdir, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive } from "./process-alive.js";

const PREFIX = "routines-run-";
const SOCKETS_PREFIX = "routines-srt-";
/** Where socket directories go when the run's directory is too deep for them. */
const SHORT_ROOT = "/tmp";
/** The longest socket directory: srt's socket names add 34 characters, and the limit is 107. */
export const MAX_SOCKET_DIR = 64;

/**
 * Where run directories go unless told otherwise: one folder of the server's own, mode 0700, which
 * the sandbox hides as a whole so that no run's commands see another run's files.
 */
export const defaultRunsRoot = () => join(tmpdir(), "routines-runs");

export interface RunDirectory {
  path: string;
  /** Where the run's working trees are made. */
  work: string;
  /** The run's HOME. */
  home: string;
  /** The run's TMPDIR. */
  tmp: string;
  /** The sandbox's own files; commands cannot write there. */
  sandbox: string;
  /** Where the sandbox keeps its proxy sockets: under `sandbox`, or a short directory of the run's own. */
  sockets: string;
  remove(): Promise<void>;
}

/** A new run directory under `root` (default: defaultRunsRoot()), mode 0700. */
export async function createRunDirectory(root: string = defaultRunsRoot()): Promise<RunDirectory> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  // mkdtemp creates it with mode 0700. A real path: the sandbox binds paths as they are.
  const path = await mkdtemp(join(await realpath(root), `${PREFIX}${process.pid}-`));
  const [work, home, tmp, sandbox] = ["work", "home", "tmp", "sandbox"].map((name) => join(path, name)) as [string, string, string, string];
  await Promise.all([work, home, tmp, sandbox].map((dir) => mkdir(dir, { mode: 0o700 })));
  const nested = join(sandbox, "srt");
  const sockets = nested.length <= MAX_SOCKET_DIR ? nested : await mkdtemp(join(SHORT_ROOT, `${SOCKETS_PREFIX}${process.pid}-`));
  if (sockets === nested) await mkdir(sockets, { mode: 0o700 });
  return { path, work, home, tmp, sandbox, sockets, remove: async () => void (await Promise.all([removeTree(path), sockets === nested ? undefined : removeTree(sockets)])) };
}

/**
 * Removes the run directories under `root` left by servers that are gone. Call it once at start,
 * before any run: directories named with this process's id count as left by an earlier server
 * that had the same id (as a container's first process does). Returns the names removed.
 */
export async function sweepRunDirectories(root: string = defaultRunsRoot()): Promise<string[]> {
  // Their socket directories too, which hold nothing of the runs but sockets.
  await sweep(SHORT_ROOT, SOCKETS_PREFIX);
  return sweep(root, PREFIX);
}

async function sweep(root: string, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [])) {
    if (!leftByGoneServer(name, prefix)) continue;
    await removeTree(join(root, name));
    removed.push(name);
  }
  return removed;
}

/**
 * Whether a name `<prefix><pid>-…` was left by a server that is gone. Names with this process's
 * id count as left by an earlier server that had the same id (as a container's first process does).
 */
export function leftByGoneServer(name: string, prefix: string): boolean {
  const owner = new RegExp(`^${prefix}(\\d+)-`).exec(name)?.[1];
  return owner !== undefined && (Number(owner) === process.pid || !processAlive(Number(owner)));
}

/** Removes a tree, also one with read-only directories (Go's module cache makes them). */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
}
