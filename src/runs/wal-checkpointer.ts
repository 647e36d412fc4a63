// SQLite copies its write-ahead log back into the database file (a checkpoint) inside whichever
// write crosses a thousand pages, and waits for the disk there: tens of milliseconds on the event
// loop every few hundred webhook deliveries, which a delivery being acknowledged then waits out.
// Here a thread with a connection of its own does the checkpoints, and the store's connection none.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

const SCRIPT = `
const { workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 5000");
// PASSIVE: copies what no reader still needs, never waits for a reader or blocks the writer.
setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // busy or closing: the next turn tries again
  }
}, workerData.intervalMs);
`;

const DRIVER = createRequire(import.meta.url).resolve("better-sqlite3");

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Checkpoints the database at `file` every `intervalMs` from a thread of its own. The thread does
 * not keep the process alive. `onError` hears of a thread that could not start or stopped.
 */
export function startCheckpointer(file: string, intervalMs: number, onError: (error: Error) => void): Checkpointer {
  const worker = new Worker(SCRIPT, { eval: true, workerData: { driver: DRIVER, file, intervalMs } });
  worker.unref();
  worker.once("error", onError);
  return {
    async stop() {
      worker.removeListener("error", onError);
      await worker.terminate();
    },
  };
}
