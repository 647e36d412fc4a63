import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SecretGrants } from "../src/config/secret-grants.js";
import { readSettings } from "../src/settings.js";

describe("readSettings", () => {
  it("has documented defaults", () => {
    expect(readSettings({})).toEqual({
      minScheduleInterval: 3_600_000,
      maxGithubWrites: 100,
      dataDir: resolve("data"),
      dailyRunsPerInstallation: 500,
      hourlyRunsPerRoutine: 30,
      hourlyRunsPerInstallation: 100,
      oneOffGrace: 3_600_000,
      apiFiresPerMinute: 10,
      workers: 2,
      runLease: 60_000,
      allowUnsandboxed: false,
      fullNetworkRepositories: [],
      model: "claude-sonnet-5-5",
      prices: {},
      budget: {},
      modelRoute: { provider: "anthropic" },
      maxOutputTokens: 8192,
      context: { mode: "harness", clearAtTokens: 100_000 },
      publicUrl: "http://localhost:3000",
      githubUrl: "https://github.com",
      githubApiUrl: "https://api.github.com",
      secrets: new SecretGrants(),
      runLimits: { maxProcesses: 2048, maxMemory: 4 * 1024 ** 3, maxDisk: 10 * 1024 ** 3 },
    });
  });

  it("reads each variable", () => {
    expect(
      readSettings({
        ROUTINES_MIN_SCHEDULE_INTERVAL: "15m",
        ROUTINES_MAX_GITHUB_WRITES: "250",
        DATA_DIR: "/var/lib/routines",
        DATABASE_URL: " postgres://routines:s3cret@db.internal:5432/routines ",
        ROUTINES_DAILY_RUNS_PER_INSTALLATION: "200",
        ROUTINES_HOURLY_RUNS_PER_ROUTINE: "5",
        ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "50",
        ROUTINES_API_FIRES_PER_MINUTE: "3",
        ROUTINES_ONE_OFF_GRACE: "15m",
        ROUTINES_RUN_LEASE: "30s",
        ROUTINES_PUBLIC_URL: "https://routines.example.com/",
        ROUTINES_MODEL: "claude-opus-4-1",
        ROUTINES_MAX_OUTPUT_TOKENS: "16000",
        ROUTINES_CONTEXT_MANAGEMENT: " API ",
        ROUTINES_CONTEXT_CLEAR_AT_TOKENS: "150000",
        GHE_HOST: "github.acme.example",
        GITHUB_CLIENT_ID: "Iv1.abc",
        GITHUB_CLIENT_SECRET: "client-secret",
        ROUTINES_SESSION_SECRET: "0123456789abcdef0123456789abcdef",
        ROUTINES_METRICS_TOKEN: " scrape-token ",
        ROUTINES_SECRET_VAULT_KEY: "vault-value",
        ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme/app, acme/site",
        ROUTINES_SECRET_VAULT_KEY__GLOBEX: "globex-vault-value",
        ROUTINES_SECRET_VAULT_KEY__GLOBEX_REPOSITORIES: "globex/*",
        ROUTINES_FULL_NETWORK_REPOSITORIES: " acme/app, acme-labs/* ,",
        ROUTINES_RUN_MAX_PROCESSES: "512",
        ROUTINES_RUN_MAX_MEMORY: "1.5GB",
        ROUTINES_RUN_MAX_DISK: "500 mb",
        ROUTINES_BUDGET_RUN_USD: "2.50",
        ROUTINES_BUDGET_DAILY_USD: "$20",
        ROUTINES_BUDGET_MAX_RUN_USD: "10",
        ROUTINES_BUDGET_MAX_DAILY_USD: "100",
      }),
    ).toEqual({
      minScheduleInterval: 900_000,
      maxGithubWrites: 250,
      dataDir: "/var/lib/routines",
      databaseUrl: "postgres://routines:s3cret@db.internal:5432/routines",
      dailyRunsPerInstallation: 200,
      hourlyRunsPerRoutine: 5,
      hourlyRunsPerInstallation: 50,
      oneOffGrace: 900_000,
      apiFiresPerMinute: 3,
      workers: 2,
      runLease: 30_000,
      allowUnsandboxed: false,
      fullNetworkRepositories: ["acme/app", "acme-labs/*"],
      model: "claude-opus-4-1",
      prices: {},
      budget: { runUsd: 2.5, dailyUsd: 20, maxRunUsd: 10, maxDailyUsd: 100 },
      modelRoute: { provider: "anthropic" },
      maxOutputTokens: 16000,
      context: { mode: "api", clearAtTokens: 150_000 },
      publicUrl: "https://routines.example.com",
      githubUrl: "https://github.acme.example",
      githubApiUrl: "https://github.acme.example/api/v3",
      oauth: { clientId: "Iv1.abc", clientSecret: "client-secret" },
      sessionSecret: "0123456789abcdef0123456789abcdef",
      metricsToken: "scrape-token",
      secrets: new SecretGrants([
        { name: "VAULT_KEY", variable: "ROUTINES_SECRET_VAULT_KEY", value: "vault-value", repositories: ["acme/app", "acme/site"] },
        { name: "VAULT_KEY", variable: "ROUTINES_SECRET_VAULT_KEY__GLOBEX", value: "globex-vault-value", repositories: ["globex/*"] },
      ]),
      runLimits: { maxProcesses: 512, maxMemory: 1.5 * 1024 ** 3, maxDisk: 500 * 1024 ** 2 },
    });
    expect(readSettings({ ROUTINES_RUN_MAX_DISK: "2g", ROUTINES_RUN_MAX_MEMORY: "1073741824" }).runLimits).toEqual({ maxProcesses: 2048, maxMemory: 1024 ** 3, maxDisk: 2 * 1024 ** 3 });
    expect(readSettings({ PORT: "8080" }).publicUrl).toBe("http://localhost:8080");
    expect(readSettings({ ROUTINES_MAX_OUTPUT_TOKENS: "128000" }).maxOutputTokens).toBe(128_000);
    expect(readSettings({ ROUTINES_MAX_OUTPUT_TOKENS: "1" }).maxOutputTokens).toBe(1);
    expect(readSettings({ ROUTINES_CONTEXT_MANAGEMENT: "off", ROUTINES_CONTEXT_CLEAR_AT_TOKENS: "5000" }).context).toEqual({ mode: "off", clearAtTokens: 5000 });
    expect(readSettings({ ROUTINES_CONNECTORS_FILE: "/etc/routines/connectors.json" }).connectorsFile).toBe("/etc/routines/connectors.json");
    expect(readSettings({ ROUTINES_FULL_NETWORK_REPOSITORIES: "*" }).fullNetworkRepositories).toEqual(["*"]);
    expect(readSettings({ DATABASE_URL: "postgresql://db/routines?sslmode=require" }).databaseUrl).toBe("postgresql://db/routines?sslmode=require");
    expect(readSettings({ DATABASE_URL: " " }).databaseUrl).toBeUndefined();
  });

  it("reads the model route, and checks the default model against it", () => {
    expect(readSettings({ ROUTINES_MODEL_PROVIDER: "Bedrock", ROUTINES_MODEL: "claude-sonnet-4-5", ROUTINES_BEDROCK_INFERENCE_PROFILE: "eu" })).toMatchObject({
      model: "claude-sonnet-4-5",
      modelRoute: { provider: "bedrock", inferenceProfile: "eu" },
    });
    expect(readSettings({ ROUTINES_MODEL_PROVIDER: "vertex", ROUTINES_MODEL: "claude-haiku-4-5@20251001" }).modelRoute).toEqual({ provider: "vertex" });
    // The default model is undated and new: each route can place it.
    expect(readSettings({ ROUTINES_MODEL_PROVIDER: "bedrock" }).model).toBe("claude-sonnet-5-5");
    // The Claude API and compatible servers take any name.
    expect(readSettings({ ROUTINES_MODEL: "my-proxy-model" }).model).toBe("my-proxy-model");
  });

  it.each([
    [{ ROUTINES_MIN_SCHEDULE_INTERVAL: "hourly" }, 'ROUTINES_MIN_SCHEDULE_INTERVAL="hourly" is not a duration; use a value such as "15m" or "1h"'],
    [{ ROUTINES_MAX_GITHUB_WRITES: "lots" }, 'ROUTINES_MAX_GITHUB_WRITES="lots" is not a whole number'],
    [{ ROUTINES_HOURLY_RUNS_PER_ROUTINE: "-1" }, 'ROUTINES_HOURLY_RUNS_PER_ROUTINE="-1" is not a whole number'],
    [{ ROUTINES_HOURLY_RUNS_PER_INSTALLATION: "lots" }, 'ROUTINES_HOURLY_RUNS_PER_INSTALLATION="lots" is not a whole number'],
    [{ ROUTINES_MAX_OUTPUT_TOKENS: "0" }, 'ROUTINES_MAX_OUTPUT_TOKENS="0" is out of range; use a whole number from 1 to 128000'],
    [{ ROUTINES_MAX_OUTPUT_TOKENS: "10000000" }, 'ROUTINES_MAX_OUTPUT_TOKENS="10000000" is out of range; use a whole number from 1 to 128000'],
    [{ ROUTINES_MAX_OUTPUT_TOKENS: "8k" }, 'ROUTINES_MAX_OUTPUT_TOKENS="8k" is not a whole number'],
    [{ ROUTINES_CONTEXT_MANAGEMENT: "compact" }, 'ROUTINES_CONTEXT_MANAGEMENT="compact" is not harness, api or off'],
    [{ ROUTINES_CONTEXT_CLEAR_AT_TOKENS: "100k" }, 'ROUTINES_CONTEXT_CLEAR_AT_TOKENS="100k" is not a whole number'],
    [{ ROUTINES_CONTEXT_CLEAR_AT_TOKENS: "1000" }, 'ROUTINES_CONTEXT_CLEAR_AT_TOKENS="1000" is out of range; use a whole number from 5000 to 1000000'],
    [{ ROUTINES_PUBLIC_URL: "routines.example.com" }, 'ROUTINES_PUBLIC_URL="routines.example.com" is not an http(s) URL'],
    [{ GITHUB_CLIENT_ID: "Iv1.abc" }, "GITHUB_CLIENT_SECRET is not set: dashboard sign-in needs both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"],
    [{ ROUTINES_SESSION_SECRET: "short" }, "ROUTINES_SESSION_SECRET is shorter than 32 characters"],
    [{ ROUTINES_SECRET_VAULT_KEY: "v", ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme" }, 'ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme" is not owner/repository, owner/* or *'],
    [{ ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme/app" }, "ROUTINES_SECRET_VAULT_KEY_REPOSITORIES is set, but ROUTINES_SECRET_VAULT_KEY is not"],
    [{ ROUTINES_FULL_NETWORK_REPOSITORIES: "acme/app,acme" }, 'ROUTINES_FULL_NETWORK_REPOSITORIES has "acme", which is not a repository; list owner/name, owner/* or * separated by commas'],
    [{ ROUTINES_FULL_NETWORK_REPOSITORIES: "*/app" }, 'ROUTINES_FULL_NETWORK_REPOSITORIES has "*/app", which is not a repository'],
    [{ ROUTINES_RUN_MAX_PROCESSES: "many" }, 'ROUTINES_RUN_MAX_PROCESSES="many" is not a whole number'],
    [{ ROUTINES_RUN_MAX_PROCESSES: "4" }, 'ROUTINES_RUN_MAX_PROCESSES="4" is out of range; use a whole number from 16 to 1000000'],
    [{ ROUTINES_RUN_MAX_MEMORY: "4 gigs" }, 'ROUTINES_RUN_MAX_MEMORY="4 gigs" is not a size; use a value such as "4GB" or "500MB"'],
    [{ ROUTINES_RUN_MAX_MEMORY: "1MB" }, 'ROUTINES_RUN_MAX_MEMORY="1MB" is too small; use at least 64 MB'],
    [{ ROUTINES_RUN_MAX_DISK: "-5GB" }, 'ROUTINES_RUN_MAX_DISK="-5GB" is not a size'],
    [{ ROUTINES_BUDGET_RUN_USD: "five" }, 'ROUTINES_BUDGET_RUN_USD="five" is not an amount of dollars; use a number above 0, such as "5" or "0.50"'],
    [{ ROUTINES_BUDGET_MAX_DAILY_USD: "0" }, 'ROUTINES_BUDGET_MAX_DAILY_USD="0" is not an amount of dollars'],
    [{ ROUTINES_BUDGET_RUN_USD: "20", ROUTINES_BUDGET_MAX_RUN_USD: "10" }, "ROUTINES_BUDGET_RUN_USD=20 is above ROUTINES_BUDGET_MAX_RUN_USD=10; a default cannot be above the ceiling"],
    [{ ROUTINES_BUDGET_DAILY_USD: "200", ROUTINES_BUDGET_MAX_DAILY_USD: "100" }, "ROUTINES_BUDGET_DAILY_USD=200 is above ROUTINES_BUDGET_MAX_DAILY_USD=100"],
    [{ DATABASE_URL: "mysql://routines:s3cret@db/routines" }, "DATABASE_URL is not a PostgreSQL URL: mysql://routines:***@db/routines; use postgres://user:password@host:5432/database"],
    [{ DATABASE_URL: "routines:s3cret@db/routines" }, "DATABASE_URL is not a PostgreSQL URL: (not shown: it is not a URL); use postgres://"],
    [{ ROUTINES_RUN_LEASE: "2s" }, 'ROUTINES_RUN_LEASE="2s" is too short; use at least "3s"'],
    [{ ROUTINES_RUN_LEASE: "soon" }, 'ROUTINES_RUN_LEASE="soon" is not a duration'],
    [{ ROUTINES_PRICES_FILE: "/no/such/prices.json" }, "ROUTINES_PRICES_FILE: cannot read /no/such/prices.json as JSON"],
    [{ ROUTINES_MODEL_PROVIDER: "azure" }, 'ROUTINES_MODEL_PROVIDER="azure" is not one of anthropic, bedrock, vertex'],
    [{ ROUTINES_MODEL_PROVIDER: "bedrock", ROUTINES_BEDROCK_INFERENCE_PROFILE: "mars" }, 'ROUTINES_BEDROCK_INFERENCE_PROFILE="mars" is not one of global, us, eu, jp, apac, au'],
    [{ ROUTINES_BEDROCK_INFERENCE_PROFILE: "us" }, "ROUTINES_BEDROCK_INFERENCE_PROFILE is set, but ROUTINES_MODEL_PROVIDER is anthropic"],
    [{ ROUTINES_MODEL_PROVIDER: "bedrock", ROUTINES_MODEL: "sonnet" }, 'ROUTINES_MODEL: the model "sonnet" is not known on Amazon Bedrock; known: claude-opus-4-7,'],
    [{ ROUTINES_MODEL_PROVIDER: "vertex", ROUTINES_MODEL: "claude-3-opus" }, 'ROUTINES_MODEL: the model "claude-3-opus" is not known on Google Vertex AI'],
  ])("names a bad value: %j", (env, message) => {
    expect(() => readSettings(env)).toThrow(message);
  });

  it("reads the operator's prices from ROUTINES_PRICES_FILE, naming a wrong entry", () => {
    const dir = mkdtempSync(join(tmpdir(), "routines-settings-"));
    const file = join(dir, "prices.json");
    writeFileSync(file, JSON.stringify({ "claude-sonnet-5-5": { input: 1.5, cache_write: 1.875, cache_read: 0.15, output: 7.5 } }));
    expect(readSettings({ ROUTINES_PRICES_FILE: file }).prices).toEqual({ "claude-sonnet-5-5": { input: 1.5, cacheWrite: 1.875, cacheRead: 0.15, output: 7.5 } });
    writeFileSync(file, JSON.stringify({ "claude-sonnet-5-5": { input: 1.5 } }));
    expect(() => readSettings({ ROUTINES_PRICES_FILE: file })).toThrow(`ROUTINES_PRICES_FILE: ${file}: claude-sonnet-5-5.cache_write:`);
  });
});
