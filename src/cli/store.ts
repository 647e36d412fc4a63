// The store as the CLI opens it: the server's database under DATA_DIR.
import { join } from "node:path";
import { SqliteStore } from "../runs/sqlite-store.js";
import { readSettings, type Settings } from "../settings.js";
import type { Io } from "./io.js";

export async function withStore<T>(io: Io, use: (store: SqliteStore, settings: Settings) => Promise<T>): Promise<T> {
  const settings = readSettings(io.env);
  const store = new SqliteStore(join(settings.dataDir, "routines.db"));
  try {
    return await use(store, settings);
  } finally {
    await store.close();
  }
}

/** A plain table: columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}

export function age(since: Date, now = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}
