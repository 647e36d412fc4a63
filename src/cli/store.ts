// The store as the CLI opens it: the server's, from the same settings (DATABASE_URL, else DATA_DIR).
import { openStore } from "../runs/open-store.js";
import { DatabaseUnavailableError } from "../runs/pg-store.js";
import type { RunStore } from "../runs/store.js";
import { readSettings, type Settings } from "../settings.js";
import { CliError, type Io } from "./io.js";

export async function withStore<T>(io: Io, use: (store: RunStore, settings: Settings) => Promise<T>): Promise<T> {
  const settings = readSettings(io.env);
  const store = await openStore(settings).catch((error: unknown) => {
    throw error instanceof DatabaseUnavailableError ? new CliError(error.message, 1) : error;
  });
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
