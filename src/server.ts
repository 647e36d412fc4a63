// `npm start`: the Probot server. Without GitHub App credentials it serves Probot's setup page,
// which registers the app from app.yml and writes the credentials to .env.
import { run } from "probot";
import { createApp } from "./app.js";
import { readSettings, SettingsError, type Settings } from "./settings.js";

let settings: Settings;
try {
  settings = readSettings();
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(`routines: ${error.message}`);
  process.exit(1);
}

await run(createApp({ settings }));
