// One server per SQLite data directory. Two would share one database while each believes it is its
// only process: the second would settle the first's runs as interrupted at start and retake its
// claims, and neither would hear the other's cancels or routines changes (several processes need
// PostgreSQL, DATABASE_URL). The lock is SQLite's own on a file of its own, held for the life of the
// process: the kernel lets it go however the process ends (a crash or kill -9 included), so no pid
// is ever trusted to say whether a lock is stale. The pid beside it only names the holder.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

export interface DataDirLock {
  release(): void;
}

/** Takes the data directory for this process, or throws DataDirInUseError when another process has it. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const lock = new Database(join(dataDir, "server.lock"));
  const holderFile = join(dataDir, "server.pid");
  try {
    // No waiting: a held lock is refused at once. Exclusive mode keeps the lock until the connection closes.
    lock.pragma("busy_timeout = 0");
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
    const holder = readHolder(holderFile);
    throw new DataDirInUseError(
      `DATA_DIR ${dataDir} is in use by another routines server${holder ? ` (pid ${holder})` : ""}: stop it, or give this one a DATA_DIR of its own; several processes share work through PostgreSQL (DATABASE_URL)`,
    );
  }
  writeFileSync(holderFile, `${process.pid}\n`);
  return {
    release() {
      if (lock.open) lock.close();
    },
  };
}

function readHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
