// Operator settings read from the environment, checked once at start with a message naming the variable.
import { resolve } from "node:path";
import { parseDuration } from "./config/duration.js";
import { INFERENCE_PROFILES, MODEL_PROVIDERS, ModelNameError, modelIdFor, type InferenceProfile, type ModelProvider } from "./config/model-names.js";
import { readSecretGrants, SecretGrantError, type SecretGrants } from "./config/secret-grants.js";
import { DEFAULT_MAX_GITHUB_WRITES_CEILING, DEFAULT_MIN_SCHEDULE_INTERVAL } from "./config/validate.js";
import type { OperatorBudget } from "./session/budget.js";
import { isPostgresUrl, redactDatabaseUrl } from "./runs/database-url.js";
import { PriceFileError, readPriceFile, type PriceTable } from "./session/pricing.js";
import { DEFAULT_CONTEXT, type ContextMode, type ContextSetting } from "./session/context-clearing.js";

export interface Settings {
  /** Shortest allowed gap between two runs of a schedule, in milliseconds (ROUTINES_MIN_SCHEDULE_INTERVAL). */
  minScheduleInterval: number;
  /** The most GitHub writes per run a routine may ask for with max_github_writes (ROUTINES_MAX_GITHUB_WRITES). */
  maxGithubWrites: number;
  /** Where the embedded store keeps its files, and the server its git caches (DATA_DIR). */
  dataDir: string;
  /** The PostgreSQL database that holds the store instead of SQLite under DATA_DIR (DATABASE_URL). */
  databaseUrl?: string;
  /** Runs allowed per installation per day, one-off schedules aside (ROUTINES_DAILY_RUNS_PER_INSTALLATION). */
  dailyRunsPerInstallation: number;
  /** Webhook-started runs allowed per routine and repository per hour (ROUTINES_HOURLY_RUNS_PER_ROUTINE). */
  hourlyRunsPerRoutine: number;
  /** Webhook-started runs allowed per installation per hour (ROUTINES_HOURLY_RUNS_PER_INSTALLATION). */
  hourlyRunsPerInstallation: number;
  /** How late a one-off schedule missed while the server was down may still fire (ROUTINES_ONE_OFF_GRACE). */
  oneOffGrace: number;
  /** Fires allowed per API token per minute (ROUTINES_API_FIRES_PER_MINUTE). */
  apiFiresPerMinute: number;
  /** Runs executed at once (ROUTINES_WORKERS). */
  workers: number;
  /** How long a run's claim holds without renewal before another process may take the run over, in milliseconds (ROUTINES_RUN_LEASE). */
  runLease: number;
  /** The operator's MCP connectors, in the .mcp.json format (ROUTINES_CONNECTORS_FILE). */
  connectorsFile?: string;
  /** Run commands without a sandbox on a host that cannot sandbox (ROUTINES_ALLOW_UNSANDBOXED=true). */
  allowUnsandboxed: boolean;
  /** Repositories whose routines may use network: full: owner/name, owner/*, or * (ROUTINES_FULL_NETWORK_REPOSITORIES). */
  fullNetworkRepositories: string[];
  /** The model for routines that name none (ROUTINES_MODEL). */
  model: string;
  /** The operator's model prices, looked at before the shipped ones (ROUTINES_PRICES_FILE); empty when unset. */
  prices: PriceTable;
  /** Dollar budgets for routines that set none, and the most a routine may set (ROUTINES_BUDGET_*). */
  budget: OperatorBudget;
  /** Where model calls go, and the Bedrock inference profile if any (ROUTINES_MODEL_PROVIDER, ROUTINES_BEDROCK_INFERENCE_PROFILE). */
  modelRoute: { provider: ModelProvider; inferenceProfile?: InferenceProfile };
  /** Most output tokens per model turn (ROUTINES_MAX_OUTPUT_TOKENS). */
  maxOutputTokens: number;
  /** How long sessions stay inside the context window (ROUTINES_CONTEXT_MANAGEMENT, ROUTINES_CONTEXT_CLEAR_AT_TOKENS). */
  context: ContextSetting;
  /** The server's address as users reach it, for links to runs (ROUTINES_PUBLIC_URL). */
  publicUrl: string;
  /** GitHub's web and API addresses: github.com, or GitHub Enterprise Server (GHE_HOST, GHE_PROTOCOL). */
  githubUrl: string;
  githubApiUrl: string;
  /** The app's OAuth credentials, for signing in to the dashboard (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET). */
  oauth?: { clientId: string; clientSecret: string };
  /** Signs dashboard cookies (ROUTINES_SESSION_SECRET); the server keeps one under DATA_DIR when unset. */
  sessionSecret?: string;
  /** The bearer token /metrics asks for (ROUTINES_METRICS_TOKEN); open to anyone who reaches it when unset. */
  metricsToken?: string;
  /** Secret values and the repositories each is granted to (ROUTINES_SECRET_<NAME>[__<LABEL>][_REPOSITORIES]). */
  secrets: SecretGrants;
  /** What one run's commands may use at once (ROUTINES_RUN_MAX_PROCESSES, ROUTINES_RUN_MAX_MEMORY, ROUTINES_RUN_MAX_DISK). */
  runLimits: { maxProcesses: number; maxMemory: number; maxDisk: number };
}

/** The ceilings a routine's budget is checked against. */
export const budgetCeilings = ({ budget }: Pick<Settings, "budget">) => ({
  ...(budget.maxRunUsd === undefined ? {} : { runUsd: budget.maxRunUsd }),
  ...(budget.maxDailyUsd === undefined ? {} : { dailyUsd: budget.maxDailyUsd }),
});

const GB = 1024 ** 3;

export class SettingsError extends Error {
  override name = "SettingsError";
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    minScheduleInterval: durationSetting(env, "ROUTINES_MIN_SCHEDULE_INTERVAL", DEFAULT_MIN_SCHEDULE_INTERVAL),
    maxGithubWrites: countSetting(env, "ROUTINES_MAX_GITHUB_WRITES", DEFAULT_MAX_GITHUB_WRITES_CEILING),
    dataDir: resolve(env.DATA_DIR?.trim() || "data"),
    ...databaseUrlSetting(env),
    dailyRunsPerInstallation: countSetting(env, "ROUTINES_DAILY_RUNS_PER_INSTALLATION", 500),
    hourlyRunsPerRoutine: countSetting(env, "ROUTINES_HOURLY_RUNS_PER_ROUTINE", 30),
    hourlyRunsPerInstallation: countSetting(env, "ROUTINES_HOURLY_RUNS_PER_INSTALLATION", 100),
    oneOffGrace: durationSetting(env, "ROUTINES_ONE_OFF_GRACE", 60 * 60 * 1000),
    apiFiresPerMinute: countSetting(env, "ROUTINES_API_FIRES_PER_MINUTE", 10),
    workers: countSetting(env, "ROUTINES_WORKERS", 2),
    runLease: leaseSetting(env),
    allowUnsandboxed: booleanSetting(env, "ROUTINES_ALLOW_UNSANDBOXED"),
    fullNetworkRepositories: repositoryListSetting(env, "ROUTINES_FULL_NETWORK_REPOSITORIES"),
    ...(env.ROUTINES_CONNECTORS_FILE?.trim() ? { connectorsFile: resolve(env.ROUTINES_CONNECTORS_FILE.trim()) } : {}),
    prices: pricesSetting(env),
    budget: budgetSettings(env),
    ...modelSettings(env),
    maxOutputTokens: countInRange(env, "ROUTINES_MAX_OUTPUT_TOKENS", 8192, 1, 128_000),
    context: {
      mode: contextMode(env),
      clearAtTokens: countInRange(env, "ROUTINES_CONTEXT_CLEAR_AT_TOKENS", DEFAULT_CONTEXT.clearAtTokens, 5_000, 1_000_000),
    },
    publicUrl: urlSetting(env, "ROUTINES_PUBLIC_URL", `http://localhost:${env.PORT?.trim() || "3000"}`),
    ...(env.ROUTINES_METRICS_TOKEN?.trim() ? { metricsToken: env.ROUTINES_METRICS_TOKEN.trim() } : {}),
    ...githubSettings(env),
    secrets: secretsSetting(env),
    runLimits: {
      maxProcesses: countInRange(env, "ROUTINES_RUN_MAX_PROCESSES", 2048, 16, 1_000_000),
      maxMemory: sizeSetting(env, "ROUTINES_RUN_MAX_MEMORY", 4 * GB, 64 * 1024 ** 2),
      maxDisk: sizeSetting(env, "ROUTINES_RUN_MAX_DISK", 10 * GB, 16 * 1024 ** 2),
    },
  };
}

function pricesSetting(env: NodeJS.ProcessEnv): PriceTable {
  const file = env.ROUTINES_PRICES_FILE?.trim();
  if (!file) return {};
  try {
    return readPriceFile(resolve(file));
  } catch (error) {
    if (error instanceof PriceFileError) throw new SettingsError(`ROUTINES_PRICES_FILE: ${error.message}`);
    throw error;
  }
}

function budgetSettings(env: NodeJS.ProcessEnv): OperatorBudget {
  const runUsd = dollarSetting(env, "ROUTINES_BUDGET_RUN_USD");
  const dailyUsd = dollarSetting(env, "ROUTINES_BUDGET_DAILY_USD");
  const maxRunUsd = dollarSetting(env, "ROUTINES_BUDGET_MAX_RUN_USD");
  const maxDailyUsd = dollarSetting(env, "ROUTINES_BUDGET_MAX_DAILY_USD");
  // A default above its ceiling would put every routine that sets no budget over it.
  for (const [value, ceiling, name, ceilingName] of [
    [runUsd, maxRunUsd, "ROUTINES_BUDGET_RUN_USD", "ROUTINES_BUDGET_MAX_RUN_USD"],
    [dailyUsd, maxDailyUsd, "ROUTINES_BUDGET_DAILY_USD", "ROUTINES_BUDGET_MAX_DAILY_USD"],
  ] as const) {
    if (value !== undefined && ceiling !== undefined && value > ceiling) throw new SettingsError(`${name}=${value} is above ${ceilingName}=${ceiling}; a default cannot be above the ceiling`);
  }
  return {
    ...(runUsd === undefined ? {} : { runUsd }),
    ...(dailyUsd === undefined ? {} : { dailyUsd }),
    ...(maxRunUsd === undefined ? {} : { maxRunUsd }),
    ...(maxDailyUsd === undefined ? {} : { maxDailyUsd }),
  };
}

/** An amount of dollars above 0, such as "5" or "0.50"; undefined when unset. */
function dollarSetting(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name]?.trim().replace(/^\$/, "");
  if (!text) return undefined;
  if (!/^\d+(?:\.\d+)?$/.test(text) || Number(text) <= 0) throw new SettingsError(`${name}=${JSON.stringify(env[name]?.trim())} is not an amount of dollars; use a number above 0, such as "5" or "0.50"`);
  return Number(text);
}

const DEFAULT_MODEL = "claude-sonnet-5-5";

/** The route and the default model, checked against each other: a model the route cannot place fails at start, not at the first run. */
function modelSettings(env: NodeJS.ProcessEnv): Pick<Settings, "model" | "modelRoute"> {
  const provider = choiceSetting(env, "ROUTINES_MODEL_PROVIDER", MODEL_PROVIDERS, "anthropic");
  const profileText = env.ROUTINES_BEDROCK_INFERENCE_PROFILE?.trim();
  if (profileText && provider !== "bedrock") throw new SettingsError(`ROUTINES_BEDROCK_INFERENCE_PROFILE is set, but ROUTINES_MODEL_PROVIDER is ${provider}: inference profiles are Amazon Bedrock's; set ROUTINES_MODEL_PROVIDER=bedrock or remove it`);
  const inferenceProfile = profileText ? choiceSetting(env, "ROUTINES_BEDROCK_INFERENCE_PROFILE", INFERENCE_PROFILES, "us") : undefined;
  const model = env.ROUTINES_MODEL?.trim() || DEFAULT_MODEL;
  try {
    modelIdFor(provider, model, inferenceProfile ? { inferenceProfile } : {});
  } catch (error) {
    if (!(error instanceof ModelNameError)) throw error;
    throw new SettingsError(`${env.ROUTINES_MODEL?.trim() ? "ROUTINES_MODEL" : `ROUTINES_MODEL (unset, so ${DEFAULT_MODEL})`}: ${error.message}`);
  }
  return { model, modelRoute: { provider, ...(inferenceProfile ? { inferenceProfile } : {}) } };
}

function choiceSetting<T extends string>(env: NodeJS.ProcessEnv, name: string, choices: readonly T[], fallback: T): T {
  const text = env[name]?.trim().toLowerCase();
  if (!text) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new SettingsError(`${name}=${JSON.stringify(env[name]?.trim())} is not one of ${choices.join(", ")}`);
  return text as T;
}

function secretsSetting(env: NodeJS.ProcessEnv): SecretGrants {
  try {
    return readSecretGrants(env);
  } catch (error) {
    if (error instanceof SecretGrantError) throw new SettingsError(error.message);
    throw error;
  }
}

function githubSettings(env: NodeJS.ProcessEnv): Pick<Settings, "githubUrl" | "githubApiUrl" | "oauth" | "sessionSecret"> {
  const host = env.GHE_HOST?.trim();
  const githubUrl = host ? `${env.GHE_PROTOCOL?.trim() || "https"}://${host}` : "https://github.com";
  const clientId = env.GITHUB_CLIENT_ID?.trim();
  const clientSecret = env.GITHUB_CLIENT_SECRET?.trim();
  if (Boolean(clientId) !== Boolean(clientSecret)) {
    throw new SettingsError(`${clientId ? "GITHUB_CLIENT_SECRET" : "GITHUB_CLIENT_ID"} is not set: dashboard sign-in needs both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (from the app's settings on GitHub)`);
  }
  const sessionSecret = env.ROUTINES_SESSION_SECRET?.trim();
  if (sessionSecret !== undefined && sessionSecret !== "" && sessionSecret.length < 32) {
    throw new SettingsError("ROUTINES_SESSION_SECRET is shorter than 32 characters; use a long random value, e.g. from `openssl rand -hex 32`");
  }
  return {
    githubUrl,
    githubApiUrl: host ? `${githubUrl}/api/v3` : "https://api.github.com",
    ...(clientId && clientSecret ? { oauth: { clientId, clientSecret } } : {}),
    ...(sessionSecret ? { sessionSecret } : {}),
  };
}

/**
 * A configured app needs its webhook secret: without one, Probot checks signatures against its
 * public default ("development"), and anyone could send the server events that start runs.
 */
export function requireWebhookSecret(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.APP_ID?.trim()) return;
  const secret = env.WEBHOOK_SECRET?.trim();
  if (!secret) throw new SettingsError("WEBHOOK_SECRET is not set: copy the webhook secret from the app's settings on GitHub (without it, anyone could send the server events)");
  if (secret === "development") throw new SettingsError('WEBHOOK_SECRET is "development", a public default: set a long random value here and in the app\'s settings on GitHub');
}

function durationSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new SettingsError(`${name}=${JSON.stringify(text)} is not a duration; use a value such as "15m" or "1h"`);
  }
  return ms;
}

function countSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  if (!/^\d+$/.test(text)) throw new SettingsError(`${name}=${JSON.stringify(text)} is not a whole number`);
  return Number(text);
}

function countInRange(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const count = countSetting(env, name, fallback);
  if (count < min || count > max) throw new SettingsError(`${name}=${JSON.stringify(env[name]?.trim())} is out of range; use a whole number from ${min} to ${max}`);
  return count;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: GB, gb: GB, t: 1024 * GB, tb: 1024 * GB };

/** A size such as "4GB", "500 MB" or "2g" (units of 1024), at least `min` bytes. */
function sizeSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new SettingsError(`${name}=${JSON.stringify(text)} is not a size; use a value such as "4GB" or "500MB"`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < min) throw new SettingsError(`${name}=${JSON.stringify(text)} is too small; use at least ${min / 1024 ** 2} MB`);
  return bytes;
}

const CONTEXT_MODES: readonly ContextMode[] = ["harness", "api", "off"];

function contextMode(env: NodeJS.ProcessEnv): ContextMode {
  const text = env.ROUTINES_CONTEXT_MANAGEMENT?.trim().toLowerCase();
  if (!text) return DEFAULT_CONTEXT.mode;
  const mode = CONTEXT_MODES.find((one) => one === text);
  if (!mode) throw new SettingsError(`ROUTINES_CONTEXT_MANAGEMENT=${JSON.stringify(env.ROUTINES_CONTEXT_MANAGEMENT)} is not harness, api or off`);
  return mode;
}

function booleanSetting(env: NodeJS.ProcessEnv, name: string): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (!text || text === "false" || text === "0") return false;
  if (text === "true" || text === "1") return true;
  throw new SettingsError(`${name}=${JSON.stringify(env[name])} is not true or false`);
}

/** A comma-separated list of repositories: owner/name, owner/* for all of an owner's, or * for all. */
function repositoryListSetting(env: NodeJS.ProcessEnv, name: string): string[] {
  const entries = (env[name] ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
  const wrong = entries.find((entry) => entry !== "*" && !/^[A-Za-z0-9_.-]+\/(?:[A-Za-z0-9_.-]+|\*)$/.test(entry));
  if (wrong !== undefined) {
    throw new SettingsError(`${name} has ${JSON.stringify(wrong)}, which is not a repository; list owner/name, owner/* or * separated by commas, e.g. "acme/app,acme-labs/*"`);
  }
  return entries;
}

/** A lease is renewed three times per period: shorter than 3 s, renewals would be under a second apart. */
function leaseSetting(env: NodeJS.ProcessEnv): number {
  const ms = durationSetting(env, "ROUTINES_RUN_LEASE", 60_000);
  if (ms < 3_000) throw new SettingsError(`ROUTINES_RUN_LEASE=${JSON.stringify(env.ROUTINES_RUN_LEASE?.trim())} is too short; use at least "3s"`);
  return ms;
}

function databaseUrlSetting(env: NodeJS.ProcessEnv): Pick<Settings, "databaseUrl"> {
  const text = env.DATABASE_URL?.trim();
  if (!text) return {};
  if (!isPostgresUrl(text)) {
    // The value is shown without its password, or not at all when it cannot be read as a URL.
    throw new SettingsError(`DATABASE_URL is not a PostgreSQL URL: ${redactDatabaseUrl(text)}; use postgres://user:password@host:5432/database`);
  }
  return { databaseUrl: text };
}

function urlSetting(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const text = env[name]?.trim();
  if (!text) return fallback;
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
    throw new SettingsError(`${name}=${JSON.stringify(text)} is not an http(s) URL`);
  }
  return text.replace(/\/+$/, "");
}
