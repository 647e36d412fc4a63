// The store a process uses: PostgreSQL when DATABASE_URL names one, else SQLite under DATA_DIR.
import { join } from "node:path";
import { PgStore, type PgStoreOptions } from "./pg-store.js";
import { SqliteStore } from "./sqlite-store.js";
import type { RunStore } from "./store.js";

export async function openStore({ dataDir, databaseUrl }: { dataDir: string; databaseUrl?: string }, options: PgStoreOptions = {}): Promise<RunStore> {
  return databaseUrl
    ? PgStore.open(databaseUrl, options)
    : new SqliteStore(join(dataDir, "routines.db"), { checkpointOffThread: true, ...(options.onError ? { onError: options.onError } : {}) });
}
