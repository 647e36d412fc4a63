// The Probot app: wires GitHub events to the pieces that handle them, nothing else.
import { randomBytes } from "node:crypto";
import { request } from "@octokit/request";
import { ProbotOctokit, type ApplicationFunction, type ApplicationFunctionOptions, type Probot } from "probot";
import { RoutinesCache } from "./config/routines-cache.js";
import { GITHUB_EVENTS } from "./config/schema.js";
import { validateInThread, type ValidateConfig } from "./config/validate.js";
import { SIGN_IN_CALLBACK_PATH } from "./github/app-manifest.js";
import { checkConfigAt, type InspectConfig } from "./github/config-check.js";
import { configChangeInPullRequest, configChangeInPush, isDefaultBranchPush, pushTouchesClaudeFolder } from "./github/config-changes.js";
import { FindingSignals } from "./github/finding-signals.js";
import { installationClientInLane, installationFor } from "./github/installation-client.js";
import { WritePermissions } from "./github/permissions.js";
import type { Octokit } from "./config/read-config-file.js";
import type { Admission } from "./runs/admission.js";
import { cancelRun } from "./runs/cancel-run.js";
import { RunEvents } from "./runs/run-events.js";
import { followRoutineChanges } from "./runs/signal-routines.js";
import { LocalSignals, type Signals } from "./runs/signals.js";
import { runUrl } from "./runs/run-url.js";
import type { ReplyEntry, RunStore } from "./runs/store.js";
import { budgetCeilings, type Settings } from "./settings.js";
import { appLoginOf } from "./triggers/app-identity.js";
import { handleRerequestedCheck } from "./triggers/check-rerequested.js";
import { handleComment } from "./triggers/commands.js";
import { handleRepositoryEvent } from "./triggers/github-events.js";
import { keepSchedulesCurrent, scheduleRepository } from "./triggers/schedule-repositories.js";
import type { Scheduler } from "./triggers/scheduler.js";
import { dashboardHandler } from "./web/dashboard/dashboard.js";
import { GitHubSignIn } from "./web/dashboard/github-sign-in.js";
import { Sessions } from "./web/dashboard/sessions.js";
import { fireApiHandler } from "./web/fire-api.js";
import { Metrics, metricsHandler } from "./web/metrics.js";

export interface AppOptions {
  settings: Settings;
  store: RunStore;
  /** Where triggers send their RunRequests. */
  admission: Admission;
  /** Shared with the parts that run routines, so every reader sees one cache. */
  routines?: RoutinesCache;
  /** How routines files are validated and checked; the server does both off the event loop (validateOffThread, inspectOffThread). */
  validate?: ValidateConfig;
  inspectConfig?: InspectConfig;
  /** Schedule triggers; registered for every installation when the app loads. */
  scheduler?: Scheduler;
  /** Counters and gauges served at /metrics; made here when not given. */
  metrics?: Metrics;
  /** Runs' transcript events and status changes, for the dashboard's live view; fed by the server. */
  events?: RunEvents;
  /** Cancels a queued run, or asks the process running a run to stop it (runs/cancel-run.ts by default). */
  cancelRun?: (runId: string, reason: string) => Promise<boolean>;
  /**
   * What this process tells the others sharing its store, and hears from them: a push that changes
   * routines reaches every process's cache through it. Within this process when not given.
   */
  signals?: Signals;
  /** A client acting as a signed-in user, for reading what they can access at sign-in. */
  octokitForToken?: (token: string) => Octokit;
  /** Told of every reaction or reply a slash command recorded, so the reply outbox sends it without waiting for its next look. */
  onReplyRecorded?: () => void;
  /** Called once the app, and so its credentials, is loaded: the server starts its workers here. */
  onLoaded?: (app: Probot, routines: RoutinesCache) => void | Promise<void>;
}

/** What routines files are validated against: the operator's limits. */
export const validateOptionsOf = (settings: Settings) => ({ minScheduleInterval: settings.minScheduleInterval, maxGithubWrites: settings.maxGithubWrites, budgetCeilings: budgetCeilings(settings) });

export function createApp(options: AppOptions): ApplicationFunction {
  return (app: Probot, { addHandler }: Pick<ApplicationFunctionOptions, "addHandler">) => {
    const { settings, store, admission } = options;
    const validateOptions = () => validateOptionsOf(settings);
    const validate = options.validate ?? validateInThread;
    const routines = options.routines ?? new RoutinesCache(validateOptions, validate);
    const signals = options.signals ?? new LocalSignals((error) => app.log.error({ err: error }, "a signal's listener failed"));
    followRoutineChanges(signals, routines);
    const deps = {
      routines,
      admission,
      appLogin: appLoginOf(app),
      permissions: new WritePermissions(),
      runUrl: (runId: string) => runUrl(settings.publicUrl, runId),
      recordReply: async (entry: ReplyEntry) => {
        if (await store.recordReply(entry, new Date())) options.onReplyRecorded?.();
      },
    };

    const metrics = options.metrics ?? new Metrics(store);
    addHandler(metricsHandler(metrics, store, settings.metricsToken));
    app.onAny(async (context) => metrics.webhookReceived(context.name));
    addHandler(
      fireApiHandler({
        store,
        admission,
        routines,
        runUrl: deps.runUrl,
        firesPerMinute: settings.apiFiresPerMinute,
        installationFor: installationFor(app),
      }),
    );

    const events = options.events ?? new RunEvents(signals, store);
    const octokitForToken = options.octokitForToken ?? ((token: string) => new ProbotOctokit({ auth: { token }, baseUrl: settings.githubApiUrl }));
    addHandler(
      dashboardHandler({
        store,
        admission,
        routines,
        sessions: new Sessions(store, settings.sessionSecret ?? randomBytes(32).toString("hex"), { secure: settings.publicUrl.startsWith("https:") }),
        ...(settings.oauth
          ? {
              signIn: new GitHubSignIn(settings.oauth, {
                redirectUrl: `${settings.publicUrl}${SIGN_IN_CALLBACK_PATH}`,
                octokitForToken,
                request: request.defaults({ baseUrl: settings.githubApiUrl }),
              }),
            }
          : {}),
        events,
        cancelRun: options.cancelRun ?? ((runId, reason) => cancelRun({ store, events }, runId, reason)),
        installationOctokit: (installationId) => app.auth(installationId),
        permissions: deps.permissions,
        publicUrl: settings.publicUrl,
        githubUrl: settings.githubUrl,
        onError: (error) => app.log.error({ err: error }, "a dashboard page failed"),
      }),
    );

    app.on([...GITHUB_EVENTS], async (context) => {
      if ((await handleRepositoryEvent(context, deps)).length > 0) metrics.webhookMatched(context.name);
    });
    app.on("issue_comment.created", async (context) => {
      if (await handleComment(context, deps)) metrics.webhookMatched(context.name);
    });
    app.on("check_run.rerequested", (context) => handleRerequestedCheck(context, { store, admission }));

    const findingSignals = new FindingSignals({ store, clientFor: (id) => installationClientInLane(app, id, "finding-signals"), appLogin: deps.appLogin, log: app.log });
    app.on(["pull_request.synchronize", "pull_request.closed"], (context) => findingSignals.onPullRequest(context.payload));
    app.on(["pull_request_review_thread.resolved", "pull_request_review_thread.unresolved"], (context) => findingSignals.onReviewThread(context.payload));

    // A pull request's own routines.yml is validated here, never executed: routines run from the default branch.
    app.on(["pull_request.opened", "pull_request.reopened", "pull_request.synchronize"], async (context) => {
      const repository = context.repo();
      const { number, head } = context.payload.pull_request;
      if ((await configChangeInPullRequest(context.octokit, repository, number)) === undefined) return;
      const { conclusion } = await checkConfigAt(context.octokit, repository, head.sha, { ...validateOptions(), secrets: settings.secrets }, options.inspectConfig);
      context.log.info({ pull: number, conclusion }, "routines/config checked");
    });

    const { scheduler } = options;
    const scheduling = scheduler && {
      scheduler,
      routines,
      onError: (error: unknown, where: string) => app.log.error({ err: error, where }, "could not register schedules"),
    };
    if (scheduling) keepSchedulesCurrent(app, scheduling);
    void Promise.resolve(options.onLoaded?.(app, routines)).catch((error: unknown) => app.log.error({ err: error }, "the server could not start its workers"));

    app.on("push", async (context) => {
      const push = context.payload;
      if (!isDefaultBranchPush(push)) return;
      const repository = context.repo();
      if (pushTouchesClaudeFolder(push)) {
        // Every process's cache, this one's at once.
        signals.publish({ type: "routines", repository });
        const installationId = context.payload.installation?.id;
        if (scheduling && installationId !== undefined) await scheduleRepository(context.octokit, installationId, repository, scheduling);
      }
      if (configChangeInPush(push) !== "changed") return;
      const { conclusion } = await checkConfigAt(context.octokit, repository, push.after, { ...validateOptions(), secrets: settings.secrets }, options.inspectConfig);
      context.log.info({ sha: push.after, conclusion }, "routines/config checked");
    });
  };
}
