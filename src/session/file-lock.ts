// A lock that every process on the machine sees: a file created exclusively beside what it
// guards, holding the owner's pid. Processes that share a data directory (several workers) take
// turns through it; a lock left by a process that ended (a crash) is taken over. Inside one
// process, callers queue on a promise first, so the file is only contended between processes.
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { processAlive } from "./process-alive.js";

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` holding the lock at `path` (a file made and removed here), waiting for it as long as it takes. */
export async function withFileLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(async () => {
    await acquire(path);
    try {
      return await work();
    } finally {
      await unlink(path).catch(() => undefined);
    }
  });
  queues.set(path, next);
  try {
    return await next;
  } finally {
    if (queues.get(path) === next) queues.delete(path);
  }
}

async function acquire(path: string): Promise<void> {
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    try {
      const file = await open(path, "wx", 0o600);
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await takeOverAbandoned(path)) continue;
    await sleep(wait);
  }
}

/**
 * Removes the lock when its owner is no longer running. The file is first moved aside (one
 * process wins the move), then read: a lock that turns out to be live (taken in between) is put
 * back where it was, unless a new one already stands there.
 */
async function takeOverAbandoned(path: string): Promise<boolean> {
  const owner = await ownerOf(path);
  // A file without a pid is being written, unless it has been so for long (its writer ended first).
  if (owner === undefined ? !(await olderThan(path, 10_000)) : processAlive(owner)) return false;
  const aside = `${path}.${process.pid}.${Date.now()}`;
  try {
    await rename(path, aside);
  } catch {
    return false;
  }
  const moved = await ownerOf(aside);
  if (moved !== undefined && processAlive(moved)) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return true;
}

async function ownerOf(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  const pid = Number.parseInt(text ?? "", 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  const stats = await stat(path).catch(() => undefined);
  return stats !== undefined && Date.now() - stats.mtimeMs > ms;
}
