// `npm start` and `routines server`: the Probot server, the store, the scheduler and the workers
// (none with ROUTINES_WORKERS=0). Without GitHub App credentials it serves Probot's setup page,
// which registers the app from app.yml and writes the credentials to .env. `routines worker` loads
// this module in the worker role (process-role.ts): the store and the workers, with no webhooks,
// API or dashboard, and only /healthz and /metrics on PORT; several processes share PostgreSQL
// (DATABASE_URL) and tell each other what happens through its signals (runs/signals.ts).
// Settings come from the environment and `.env`, applied before anything reads them. SIGTERM and
// SIGINT stop it cleanly: no new work, running sessions interrupted (their commands stopped, their
// tokens revoked, each queued again or recorded as interrupted), the store closed.
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import type { Logger } from "pino";
import { createProbot, Probot, ProbotOctokit, run } from "probot";
import { createApp, validateOptionsOf } from "./app.js";
import { LIMITS } from "./config/limits.js";
import { RoutinesCache } from "./config/routines-cache.js";
import { validateOffThread } from "./config/validate-off-thread.js";
import { DataDirInUseError, lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { applyEnvFile } from "./env-file.js";
import { WEBHOOK_PATH, withServerAddresses } from "./github/app-manifest.js";
import { botAuthorOf } from "./github/bot-author.js";
import { inspectOffThread } from "./github/config-check.js";
import { revokeLeftoverTokens, revokeRunTokens } from "./github/leftover-tokens.js";
import { redactRequests } from "./github/redact-requests.js";
import { InboxProcessor } from "./github/inbox-processor.js";
import { webhookReceiver, type ReceivedWebhook } from "./github/receive-webhooks.js";
import { connectWebhookProxy } from "./github/webhook-proxy.js";
import { CheckOutbox, checkRunsApi } from "./github/check-outbox.js";
import { installationClientInLane } from "./github/installation-client.js";
import { ReplyOutbox, repliesApi } from "./github/reply-outbox.js";
import { CheckRunPublisher } from "./github/run-checks.js";
import { StatusCommentOutbox, statusCommentsApi } from "./github/status-comment-outbox.js";
import { StatusCommentPublisher } from "./github/status-comments.js";
import { processRole } from "./process-role.js";
import { StoreAdmission } from "./runs/admission.js";
import { cancelRun } from "./runs/cancel-run.js";
import { openSignals } from "./runs/open-signals.js";
import { RunEvents } from "./runs/run-events.js";
import { followRoutineChanges } from "./runs/signal-routines.js";
import type { Signals } from "./runs/signals.js";
import type { RunObserver } from "./runs/run-observer.js";
import type { RunRecord, RunStore } from "./runs/store.js";
import { runUrl } from "./runs/run-url.js";
import { openStore } from "./runs/open-store.js";
import { DatabaseUnavailableError, SchemaTooNewError } from "./runs/pg-store.js";
import { WorkerPool } from "./runs/worker-pool.js";
import { createServerLog, logFormatOf, type LogFormat } from "./server-log.js";
import { heldSecrets, referencedVariables, scrubEnvironment } from "./server-secrets.js";
import { parseConnectors, type ConnectorSpec } from "./session/connectors.js";
import { SessionExecutor } from "./session/executor.js";
import { createModelClient, credentialFiles, credentialsProblem, describeRoute, routeCredentials } from "./session/model-client.js";
import { createRedactor, MIN_SECRET_LENGTH } from "./session/redact.js";
import { openCgroups } from "./session/run-cgroup.js";
import { sweepRunDirectories } from "./session/run-directory.js";
import { formatSize } from "./session/run-limits.js";
import { currentTokenAuth } from "./session/run-token.js";
import { sandboxSupport } from "./session/sandbox.js";
import { serverFiles } from "./session/server-files.js";
import { Workspaces } from "./session/workspace.js";
import { readSettings, requireWebhookSecret, SettingsError, type Settings } from "./settings.js";
import { appLoginOf } from "./triggers/app-identity.js";
import { Scheduler } from "./triggers/scheduler.js";
import { sessionSecretIn } from "./web/dashboard/session-secret.js";
import { Metrics, metricsHandler } from "./web/metrics.js";

const role = processRole();
applyEnvFile();
let settings: Settings;
try {
  settings = readSettings();
  // A worker receives no webhooks.
  if (role === "server") requireWebhookSecret();
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(`routines: ${error.message}`);
  process.exit(1);
}
/** On SQLite this process is the store's only one: what a stopped one held (claims, leases) is its own to end at start. */
const soleProcess = !settings.databaseUrl;
if (role === "worker" && !settings.databaseUrl) {
  // SQLite belongs to the one process that opened it: a second one would settle the first's runs
  // as interrupted at start, and neither would hear the other's cancels or config changes.
  console.error("routines: `routines worker` needs DATABASE_URL (PostgreSQL), which several processes can share; on SQLite, `routines server` (or `npm start`) runs sessions itself");
  process.exit(1);
}
if (role === "worker" && settings.workers === 0) {
  console.error("routines: ROUTINES_WORKERS=0 leaves a worker nothing to do; set it to how many sessions this process runs at once");
  process.exit(1);
}

// Dashboard cookies are signed with it; a worker serves no dashboard.
const sessionSecretSet = settings.sessionSecret !== undefined;
if (role === "server") settings.sessionSecret ??= await sessionSecretIn(settings.dataDir);
const connectors = await readServerConnectors(settings);
// Every secret the server holds, read before the environment is scrubbed (see scrubSecrets): one
// redactor for every text that leaves the server, to GitHub, the store, the log or the model.
const held = heldSecrets(process.env, { sessionSecret: settings.sessionSecret, also: connectors.variables });
const redact = createRedactor(held);
// The model client is made now, from the route's credentials, before the environment is scrubbed;
// and before the server has started anything, so that the platform's SDK loads as the rest did.
const modelCredentials = routeCredentials(settings.modelRoute.provider, process.env);
const missingCredentials = credentialsProblem(settings.modelRoute.provider, modelCredentials);
const modelClient = missingCredentials?.blocking ? undefined : await createModelClient(settings.modelRoute, modelCredentials);
// Files of cloud credentials (a Google key file, AWS credentials files) are the server's, whichever route it takes.
const cloudCredentialFiles = credentialFiles(process.env);
// Deliveries are verified with it long after the environment was scrubbed.
const webhookSecret = process.env.WEBHOOK_SECRET;
let logFormat: LogFormat;
try {
  logFormat = logFormatOf(process.env, process.stdout.isTTY);
} catch (error) {
  console.error(`routines: ${(error as Error).message}`);
  process.exit(1);
}
const log = createServerLog(redact, { level: process.env.LOG_LEVEL ?? "info", format: logFormat });
if (role === "server" && settings.databaseUrl && !sessionSecretSet) {
  log.warn("dashboard sign-ins are signed with a key kept under DATA_DIR: when several server processes share DATABASE_URL behind one address, give each the same ROUTINES_SESSION_SECRET, or a sign-in on one is refused by the others");
}
for (const grant of settings.secrets.ungranted()) {
  log.warn(`${grant.variable} is granted to no repository: runs that need ${grant.name} are rejected until ${grant.variable}_REPOSITORIES lists theirs`);
}
for (const grant of settings.secrets.grants.filter((grant) => grant.value.length < MIN_SECRET_LENGTH)) {
  log.warn(`${grant.variable} is shorter than ${MIN_SECRET_LENGTH} characters: it cannot be told apart from ordinary text, so it is not redacted`);
}

/**
 * The server's secrets leave its environment once Probot has read its own: Probot applies `.env`
 * again when it starts, so this runs when the app loads (before anything starts a process), and
 * once more after Probot started, for its setup mode.
 */
function scrubSecrets(): void {
  const removed = scrubEnvironment(process.env, connectors.variables);
  if (removed.length > 0) log.debug({ variables: removed }, "removed the server's secrets from its environment");
}
for (const warning of connectors.warnings) log.warn(warning);
const serverConnectors = connectors.specs;
// On SQLite the data directory is this process's alone (see data-dir-lock.ts), until it stops.
let dataDirLock: DataDirLock | undefined;
if (soleProcess) {
  try {
    dataDirLock = lockDataDir(settings.dataDir);
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    log.error(error.message);
    process.exit(1);
  }
}
let store: RunStore;
try {
  store = await openStore(settings, { onError: (error) => log.warn({ err: error }, "a database connection failed; the next query opens another") });
} catch (error) {
  if (!(error instanceof DatabaseUnavailableError || error instanceof SchemaTooNewError)) throw error;
  log.error(error.message);
  process.exit(1);
}
const onSignalError = (error: unknown) => log.warn({ err: error }, "a signal between processes failed");
let signals: Signals;
try {
  signals = await openSignals(settings, onSignalError);
} catch (error) {
  log.error({ err: error }, "cannot listen for other processes' signals on the database (DATABASE_URL)");
  process.exit(1);
}
let pool: WorkerPool | undefined;
const metrics = new Metrics(store);
// Check-run states go to the store's outbox from the start; they are published once the app's
// credentials exist (when it has loaded), and whatever a stopped server left is published then.
let outbox: CheckOutbox | undefined;
const checks = new CheckRunPublisher(store, (runId) => runUrl(settings.publicUrl, runId), () => outbox?.wake());
// Status comments on pull requests likewise: their texts wait in the store until the app is loaded.
let statusOutbox: StatusCommentOutbox | undefined;
const statusComments = new StatusCommentPublisher(store, { runUrl: (runId) => runUrl(settings.publicUrl, runId), redact, onRecorded: () => statusOutbox?.wake() });
// Slash commands' reactions and replies likewise wait in the store until the app is loaded.
let replies: ReplyOutbox | undefined;
// Every log line of a run names the run, its repository and its routine.
const runLogs = new Map<string, Logger>();
const runLog = (run: RunRecord): Logger => log.child({ run: run.id, repository: `${run.repository.owner}/${run.repository.repo}`, routine: run.routine });
// What the dashboard shows live, in every process: transcript events from the workers, status changes from whoever makes them.
const events = new RunEvents(signals, store, (error) => log.warn({ err: error }, "a run's live view could not be updated"));
/** Tells each publisher of a run's state: one that fails never keeps another from hearing, and every failure is reported. */
async function tellAll(...told: Array<Promise<void>>): Promise<void> {
  const failed = (await Promise.allSettled(told)).flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new AggregateError(failed, "the check run's and the status comment's states could not be recorded");
}
const observer: RunObserver = {
  admitted: async (run) => {
    events.status(run);
    await tellAll(checks.admitted(run), statusComments.admitted(run));
  },
  started: async (run) => {
    events.status(run);
    const logger = runLog(run);
    runLogs.set(run.id, logger);
    logger.info({ trigger: run.trigger.kind, attempt: run.attempt ?? 1 }, "run started");
    await tellAll(checks.started(run), statusComments.started(run));
  },
  finished: async (run) => {
    (runLogs.get(run.id) ?? runLog(run)).info({ status: run.status, outcome: run.outcome, stopReason: run.stopReason, reason: run.reason }, "run finished");
    runLogs.delete(run.id);
    events.status(run);
    await metrics.observer.finished?.(run);
    await tellAll(checks.finished(run), statusComments.finished(run));
  },
  requeued: async (run) => {
    (runLogs.get(run.id) ?? runLog(run)).warn({ attempt: run.attempt }, "run interrupted before it published anything: queued again");
    runLogs.delete(run.id);
    events.status(run);
    await tellAll(checks.requeued(run), statusComments.requeued(run));
  },
};
const onObserverError = (error: unknown) => log.error({ err: error }, "a check run's or status comment's state could not be recorded");
const admission = new StoreAdmission(store, settings, {
  // The workers of every process look at once.
  onQueued: () => signals.publish({ type: "queued" }),
  secrets: settings.secrets,
  observer,
  onError: onObserverError,
});
const scheduler = new Scheduler({ store, admission, oneOffGrace: settings.oneOffGrace, onError: (error, where) => log.error({ err: error, where }, "a schedule could not fire") });

/**
 * The operator's connectors; `${VAR}`s in the file come from the server's environment, and those
 * variables count among the server's secrets.
 */
async function readServerConnectors({ connectorsFile }: Settings): Promise<{ specs: ConnectorSpec[]; warnings: string[]; variables: string[] }> {
  if (!connectorsFile) return { specs: [], warnings: [], variables: [] };
  const text = await readFile(connectorsFile, "utf8").catch((error: Error) => {
    console.error(`routines: cannot read ROUTINES_CONNECTORS_FILE ${connectorsFile}: ${error.message}`);
    process.exit(1);
  });
  // Unset variables read as undefined, which parseConnectors reports as missing.
  return { ...parseConnectors(text, process.env as Record<string, string>, connectorsFile), variables: referencedVariables(text) };
}

/** Whether the app has loaded: not in Probot's setup mode, where no app is registered yet. */
let appLoaded = false;
/** Check runs follow runs from now on; sessions need the model key, without which runs wait in the queue. */
async function onLoaded(app: Probot, routines: RoutinesCache): Promise<void> {
  appLoaded = true;
  scrubSecrets();
  // A worker only runs sessions: web processes publish what the outboxes hold, the check runs and
  // status comments of the workers' runs too (within the outboxes' poll of a second).
  const publishing = role === "server";
  // Check runs are cosmetic: their writes take a lane of their own, so the writes a running
  // session makes (reviews, comments, pull requests) never queue behind them.
  outbox = new CheckOutbox(store, checkRunsApi((id) => installationClientInLane(app, id, "check-runs")), {
    soleProcess,
    onError: (error, { check, retrying }) =>
      log.warn({ err: error, check: check?.key, attempts: (check?.attempts ?? 0) + 1 }, retrying ? "a check run could not be written; trying again" : "a check run could not be written; giving up on this state"),
  });
  if (!stopping && publishing) outbox.start();
  // Replies take a lane of their own too: a burst of check runs does not hold up a command's answer.
  replies = new ReplyOutbox(store, repliesApi((id) => installationClientInLane(app, id, "replies"), appLoginOf(app)), {
    soleProcess,
    keepMs: LIMITS.replayWindowMs,
    onError: (error, { reply, retrying }) =>
      log.warn({ err: error, reply: reply?.key, attempts: (reply?.attempts ?? 0) + 1 }, retrying ? "a reply could not be written; trying again" : "a reply could not be written; giving up on it"),
  });
  if (!stopping && publishing) replies.start();
  // Status comments too: a run's steps never hold up a command's answer or a session's writes.
  statusOutbox = new StatusCommentOutbox(store, statusCommentsApi((id) => installationClientInLane(app, id, "status-comments"), appLoginOf(app)), {
    soleProcess,
    onError: (error, { comment, retrying }) =>
      log.warn({ err: error, statusComment: comment?.key, attempts: (comment?.attempts ?? 0) + 1 }, retrying ? "a status comment could not be written; trying again" : "a status comment could not be written; giving up on this text"),
  });
  if (!stopping && publishing) statusOutbox.start();
  // Tokens of runs that a crash left alive die now, whether or not this server runs sessions.
  const revoked = await revokeLeftoverTokens(store, octokitForToken, (error) => log.warn({ err: error }, "a leftover run token could not be revoked"));
  if (revoked > 0) log.warn({ tokens: revoked }, "revoked run tokens that the last stop left alive");
  // Working trees (private code), HOMEs and temporary files of runs a crash cut short go too.
  const swept = await sweepRunDirectories();
  if (swept.length > 0) log.warn({ directories: swept.length }, "removed the directories of runs that the last stop left behind");
  if (settings.workers === 0) {
    log.info(
      settings.databaseUrl
        ? "ROUTINES_WORKERS=0: this process runs no sessions; worker processes (`routines worker`) on the same DATABASE_URL run them"
        : "ROUTINES_WORKERS=0 on SQLite: runs are queued but no process runs them (worker processes need DATABASE_URL)",
    );
    return;
  }
  // Each route needs its own credentials; without them runs wait in the queue (or, where the
  // platform may find credentials by itself, the operator is warned).
  if (missingCredentials) log.warn(missingCredentials.message);
  if (!modelClient) return;
  if (settings.modelRoute.provider !== "anthropic") log.info(`model calls go to ${describeRoute(settings.modelRoute)}`);
  const support = await sandboxSupport();
  if (!support.ok) {
    log.warn(
      settings.allowUnsandboxed
        ? `this host cannot sandbox commands, and ROUTINES_ALLOW_UNSANDBOXED is set: network policies are not enforced (${support.reason})`
        : `this host cannot sandbox commands: runs will error until it can, or ROUTINES_ALLOW_UNSANDBOXED=true (${support.reason})`,
    );
  }
  // What commands may never read, besides everything outside the system the sandbox denies anyway.
  const hidden = await serverFiles({
    cwd: process.cwd(),
    dataDir: settings.dataDir,
    ...(process.env.PRIVATE_KEY_PATH ? { privateKeyPath: process.env.PRIVATE_KEY_PATH } : {}),
    ...(settings.connectorsFile ? { connectorsFile: settings.connectorsFile } : {}),
    credentialFiles: cloudCredentialFiles,
  });
  // Each run's processes and memory are counted in a control group of its own where the host delegates one.
  const cgroups = await openCgroups();
  const { maxProcesses, maxMemory, maxDisk } = settings.runLimits;
  if ("root" in cgroups) log.info(`run limits: ${maxProcesses} processes, ${formatSize(maxMemory)} of memory and ${formatSize(maxDisk)} of disk per run (${cgroups.root.description})`);
  else log.warn(`run limits: no control group for runs (${cgroups.reason}): ${maxProcesses} processes per command only where the server's user is not root, ${formatSize(maxMemory)} of memory per process, ${formatSize(maxDisk)} of disk per run`);
  const limits = { ...settings.runLimits, ...("root" in cgroups ? { cgroups: cgroups.root } : {}) };
  const executor = new SessionExecutor({
    appOctokit: () => app.auth(),
    installationOctokit: (id) => app.auth(id),
    octokitForToken,
    botAuthor: botAuthorOf(app),
    routines,
    workspaces: new Workspaces(join(settings.dataDir, "git")),
    // The agent loop retries overloads and rate limits itself, for about a minute.
    client: modelClient,
    model: settings.model,
    maxOutputTokens: settings.maxOutputTokens,
    prices: settings.prices,
    operatorBudget: settings.budget,
    context: settings.context,
    serverConnectors,
    secrets: settings.secrets,
    heldSecrets: held,
    setupCacheDir: join(settings.dataDir, "setup-cache"),
    sandbox: { available: support.ok, ...(support.ok ? {} : { reason: support.reason }), allowUnsandboxed: settings.allowUnsandboxed, hidden, fullNetworkRepositories: settings.fullNetworkRepositories, limits },
    onTokenRefreshError: (error, runId) => log.warn({ err: error, run: runId }, "the run's token could not be refreshed; trying again"),
  });
  if (stopping) return;
  pool = new WorkerPool(store, executor, {
    concurrency: settings.workers,
    // SQLite: this process owns the database, so runs found running are a stopped process's.
    soleProcess,
    leaseMs: settings.runLease,
    onTakenOver: async (run) => {
      await revokeRunTokens(store, run.id, octokitForToken, (error) => log.warn({ err: error, run: run.id }, "a run token left by a stopped process could not be revoked"));
    },
    observer,
    signals,
    redact,
    onError: (error) => log.error({ err: error }, "the worker pool failed"),
  });
  pool.onEvent(metrics.transcriptEvent);
  pool.onEvent((runId, event) => events.event(runId, event));
  pool.onEvent((runId, event) => void statusComments.event(runId, event).catch(onObserverError));
  pool.onEvent((runId, event) => runLogs.get(runId)?.debug({ event: event.kind, seq: event.seq }, "transcript event"));
  const { requeued, interrupted } = await pool.start();
  if (requeued.length > 0) log.warn({ runs: requeued }, "runs interrupted by the last stop had published nothing: queued again");
  if (interrupted.length > 0) log.warn({ runs: interrupted }, "runs interrupted by the last stop are recorded as interrupted");
}

// Every client the app makes reports GitHub's rate limit as it answers, and sends nothing the
// redactor would not let out.
const Octokit = ProbotOctokit.plugin(redactRequests(redact), (octokit) => {
  octokit.hook.after("request", (response) => {
    const remaining = Number(response.headers["x-ratelimit-remaining"]);
    if (Number.isFinite(remaining)) metrics.rateLimitRemaining(remaining);
  });
});

/**
 * The worker role: the app's credentials for GitHub (no webhooks), a routines cache of its own that
 * signals keep current, the workers, and /healthz and /metrics on PORT for whoever watches it.
 */
async function startWorker(): Promise<() => Promise<void>> {
  if (!/^\d+$/.test(process.env.APP_ID?.trim() ?? "") || !(process.env.PRIVATE_KEY?.trim() || process.env.PRIVATE_KEY_PATH?.trim())) {
    log.error("a worker needs the GitHub App's credentials to act on repositories: set APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) as the server's .env has them");
    process.exit(1);
  }
  const app = createProbot({ overrides: { Octokit, log: log.child({ name: "probot" }) } });
  const routines = new RoutinesCache(() => validateOptionsOf(settings), validateOffThread);
  followRoutineChanges(signals, routines);
  await onLoaded(app, routines);
  const health = metricsHandler(metrics, store, settings.metricsToken);
  const listener = createHttpServer((req, res) => {
    health(req, res)
      .then((handled) => {
        if (!handled) res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("A worker serves only /healthz and /metrics.\n");
      })
      .catch((error: unknown) => {
        log.warn({ err: error }, "/healthz or /metrics failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  // PORT and HOST as the server reads them (Probot's defaults: 3000 on localhost).
  const port = Number(process.env.PORT?.trim() || 3000);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, process.env.HOST?.trim() || "localhost", () => resolve());
  });
  log.info({ port, workers: settings.workers }, "worker started: it runs sessions, and serves only /healthz and /metrics");
  return () => new Promise<void>((resolve) => listener.close(() => resolve()));
}

/** A queued run here; a running one by the process that runs it, wherever it is. */
const cancel = (runId: string, reason: string) => cancelRun({ store, events, observer, onError: onObserverError }, runId, reason);

let tokenClients = 0;
/**
 * A client with a fixed token, or with whatever token `token()` returns at each request (a run's
 * refreshed token). Octokit's throttling lets one write a second through per lane, and clients
 * without a lane share one for the whole process: each gets its own, so a run's writes (and a
 * token's revocation) wait behind its own, not behind every other run's.
 */
function octokitForToken(token: string | (() => string)) {
  const throttle = { id: `token-client-${++tokenClients}` };
  return typeof token === "string"
    ? new Octokit({ auth: { token }, baseUrl: settings.githubApiUrl, throttle })
    : new Octokit({ authStrategy: currentTokenAuth, auth: { current: token }, baseUrl: settings.githubApiUrl, throttle });
}

let stopping: Promise<void> | undefined;
/** Stops taking work, interrupts running sessions, closes the store and exits. */
function stop(signal: NodeJS.Signals): void {
  stopping ??= (async () => {
    log.info({ signal }, "stopping: no new work; running sessions are interrupted");
    // A platform that sends SIGTERM waits only so long before SIGKILL: never hang here.
    setTimeout(() => {
      log.error("the server did not stop within 25 s; exiting anyway");
      process.exit(1);
    }, 25_000).unref();
    void stopListening().catch(() => undefined);
    void webhookProxy?.stop();
    scheduler.stop();
    // Deliveries being handled get a moment to finish; what is left stays in the inbox for the next start.
    await inbox?.stop(5_000);
    await pool?.stop(`the server was stopped (${signal})`);
    // The interrupted runs' checks go out now if GitHub answers in time; what is left waits in
    // the outbox for the next start.
    await Promise.all([outbox?.drain(5_000), replies?.drain(5_000), statusOutbox?.drain(5_000)]);
    await signals.close();
    await store.close();
    dataDirLock?.release();
    log.info("stopped");
    process.exit(0);
  })();
}

// Verified deliveries wait in the inbox until the app's handlers have run (github/inbox-processor.ts).
let inbox: InboxProcessor | undefined;

// Probot's server puts the webhook middleware that getNodeMiddleware returns in front of every
// other handler; ours replaces Probot's (see github/receive-webhooks.ts for why). Probot asks for it
// once the app is loaded, so its handlers are registered when the inbox starts handing deliveries on.
Probot.prototype.getNodeMiddleware = async function (this: Probot) {
  const webhooksLog = log.child({ name: "webhooks" });
  inbox ??= new InboxProcessor(store, {
    // The payload is GitHub's JSON, verified by its signature; Probot's handlers type it by event name.
    handle: (event: ReceivedWebhook) => this.receive(event as Parameters<Probot["receive"]>[0]),
    keepMs: LIMITS.replayWindowMs,
    log: webhooksLog,
    // SQLite: this process owns the database, so claims found in the inbox are a stopped process's.
    soleProcess,
  });
  if (!stopping) inbox.start();
  return webhookReceiver({
    path: this.webhookPath,
    secret: webhookSecret,
    accept: async (delivery, bodyHash) => {
      const accepted = await store.acceptDelivery(delivery, bodyHash, LIMITS.replayWindowMs);
      if ("queued" in accepted && accepted.queued) inbox?.wake();
      return accepted;
    },
    log: webhooksLog,
  });
};

// Probot's setup page registers the app from app.yml, whose addresses are localhost:3000; it offers no
// option to change them, so its manifest maker (not among the package's exports) is wrapped here.
const { ManifestCreation } = (await import(new URL("manifest-creation.js", import.meta.resolve("probot")).href)) as {
  ManifestCreation: { prototype: { getManifest(options: unknown): string } };
};
const probotManifest = ManifestCreation.prototype.getManifest;
ManifestCreation.prototype.getManifest = function (options: unknown) {
  const manifest = JSON.parse(probotManifest.call(this, options)) as Record<string, unknown>;
  return JSON.stringify(withServerAddresses(manifest, { publicUrl: settings.publicUrl, webhookProxyUrl: process.env.WEBHOOK_PROXY_URL }));
};

// Probot would connect to WEBHOOK_PROXY_URL itself and end the process when the channel cannot be
// reached: it is not told of the channel, and the server connects to it once it listens.
const webhookProxyUrl = process.env.WEBHOOK_PROXY_URL;
let stopListening: () => Promise<void>;
let webhookProxy: ReturnType<typeof connectWebhookProxy> | undefined;
if (role === "server") {
  const server = await run(
    createApp({ settings, store, admission, scheduler, metrics, events, signals, cancelRun: cancel, octokitForToken, onLoaded, onReplyRecorded: () => replies?.wake(), validate: validateOffThread, inspectConfig: inspectOffThread }),
    {
      Octokit,
      log: log.child({ name: "probot" }),
      env: { ...process.env, WEBHOOK_PROXY_URL: undefined },
    },
  );
  stopListening = () => server.stop();
  // Only a registered app receives webhooks: in setup mode there is nothing to forward to.
  webhookProxy = webhookProxyUrl && appLoaded
    ? connectWebhookProxy({ url: webhookProxyUrl, target: `http://${server.host}:${server.port}${WEBHOOK_PATH}`, log: log.child({ name: "webhook-proxy" }) })
    : undefined;
} else {
  stopListening = await startWorker();
}
scrubSecrets();
// Probot's own SIGINT handler exits at once, without stopping the workers: ours replaces it.
process.removeAllListeners("SIGINT");
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
