// `npm start`: the Probot server. Without GitHub App credentials it serves Probot's setup page,
// which registers the app from app.yml and writes the credentials to .env.
import { join } from "node:path";
import { pino } from "pino";
import { run } from "probot";
import { createApp } from "./app.js";
import { StoreAdmission } from "./runs/admission.js";
import { SqliteStore } from "./runs/sqlite-store.js";
import { Scheduler } from "./triggers/scheduler.js";
import { readSettings, SettingsError, type Settings } from "./settings.js";

let settings: Settings;
try {
  settings = readSettings();
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(`routines: ${error.message}`);
  process.exit(1);
}

const store = new SqliteStore(join(settings.dataDir, "routines.db"));
const admission = new StoreAdmission(store, settings);
const log = pino({ name: "scheduler", level: process.env.LOG_LEVEL ?? "info" });
const scheduler = new Scheduler({ store, admission, oneOffGrace: settings.oneOffGrace, onError: (error, where) => log.error({ err: error, where }, "a schedule could not fire") });
await run(createApp({ settings, store, admission, scheduler }));
