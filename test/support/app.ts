// The whole app on a Probot that talks to nock, with a real store in memory.
import type { Probot } from "probot";
import { createApp } from "../../src/app.js";
import { RoutinesCache } from "../../src/config/routines-cache.js";
import { SecretGrants } from "../../src/config/secret-grants.js";
import { StoreAdmission, type Admission, type AdmissionResult } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { Settings } from "../../src/settings.js";
import { Scheduler } from "../../src/triggers/scheduler.js";
import { testProbot } from "./github.js";

export const testSettings: Settings = {
  minScheduleInterval: 3_600_000,
  maxGithubWrites: 100,
  dataDir: "/nonexistent",
  dailyRunsPerInstallation: 500,
  hourlyRunsPerRoutine: 30,
  hourlyRunsPerInstallation: 100,
  oneOffGrace: 3_600_000,
  apiFiresPerMinute: 10,
  workers: 1,
  runLease: 60_000,
  allowUnsandboxed: false,
  fullNetworkRepositories: [],
  model: "claude-test",
  prices: {},
  budget: {},
  modelRoute: { provider: "anthropic" },
  maxOutputTokens: 4096,
  context: { mode: "harness", clearAtTokens: 100_000 },
  publicUrl: "https://routines.example.test",
  githubUrl: "https://github.com",
  githubApiUrl: "https://api.github.com",
  secrets: new SecretGrants(),
  runLimits: { maxProcesses: 2048, maxMemory: 4 * 1024 ** 3, maxDisk: 10 * 1024 ** 3 },
};

/** Admission as the server does it, remembering every answer for the test to read. */
export class RecordingAdmission implements Admission {
  readonly results: AdmissionResult[] = [];
  constructor(private readonly inner: Admission) {}
  async admit(request: RunRequest): Promise<AdmissionResult> {
    const result = await this.inner.admit(request);
    this.results.push(result);
    return result;
  }
}

export function testApp(settings: Partial<Settings> = {}, { withScheduler = false } = {}) {
  const merged = { ...testSettings, ...settings };
  const store = new SqliteStore(":memory:");
  const admission = new RecordingAdmission(new StoreAdmission(store, merged));
  const routines = new RoutinesCache(() => merged);
  const scheduler = withScheduler ? new Scheduler({ store, admission, oneOffGrace: merged.oneOffGrace }) : undefined;
  const probot = testProbot();
  const app = createApp({ settings: merged, store, admission, routines, ...(scheduler ? { scheduler } : {}) });
  const loaded = probot.load(app, { cwd: process.cwd(), addHandler: () => undefined });
  return { probot, store, admission, routines, scheduler, loaded };
}

let deliveries = 0;
export const receive = (probot: Probot, name: string, payload: unknown, id = `delivery-${++deliveries}`) =>
  probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);
