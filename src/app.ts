// The Probot app: wires GitHub events to the pieces that handle them, nothing else.
import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";
import { RoutinesCache } from "./config/routines-cache.js";
import { checkConfigAt } from "./github/config-check.js";
import { configChangeInPullRequest, configChangeInPush, isDefaultBranchPush, pushTouchesClaudeFolder } from "./github/config-changes.js";
import { installationFor } from "./github/installation-client.js";
import { WritePermissions } from "./github/permissions.js";
import type { Admission } from "./runs/admission.js";
import { runUrl } from "./runs/run-url.js";
import type { RunStore } from "./runs/store.js";
import type { Settings } from "./settings.js";
import { appLoginOf } from "./triggers/app-identity.js";
import { handleRerequestedCheck } from "./triggers/check-rerequested.js";
import { handleComment } from "./triggers/commands.js";
import { handleRepositoryEvent } from "./triggers/github-events.js";
import { keepSchedulesCurrent, scheduleRepository } from "./triggers/schedule-repositories.js";
import type { Scheduler } from "./triggers/scheduler.js";
import { fireApiHandler } from "./web/fire-api.js";
import { Metrics, metricsHandler } from "./web/metrics.js";

export interface AppOptions {
  settings: Settings;
  store: RunStore;
  /** Where triggers send their RunRequests. */
  admission: Admission;
  /** Shared with the parts that run routines, so every reader sees one cache. */
  routines?: RoutinesCache;
  /** Schedule triggers; registered for every installation when the app loads. */
  scheduler?: Scheduler;
  /** Counters and gauges served at /metrics; made here when not given. */
  metrics?: Metrics;
  /** Called once the app, and so its credentials, is loaded: the server starts its workers here. */
  onLoaded?: (app: Probot, routines: RoutinesCache) => void | Promise<void>;
}

export function createApp(options: AppOptions): ApplicationFunction {
  return (app: Probot, { addHandler }: Pick<ApplicationFunctionOptions, "addHandler">) => {
    const { settings, store, admission } = options;
    const validateOptions = () => ({ minScheduleInterval: settings.minScheduleInterval });
    const routines = options.routines ?? new RoutinesCache(validateOptions);
    const deps = {
      routines,
      admission,
      appLogin: appLoginOf(app),
      permissions: new WritePermissions(),
      runUrl: (runId: string) => runUrl(settings.publicUrl, runId),
    };

    const metrics = options.metrics ?? new Metrics(store);
    addHandler(metricsHandler(metrics, store));
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

    app.on(["pull_request", "release"], async (context) => {
      if ((await handleRepositoryEvent(context, deps)).length > 0) metrics.webhookMatched(context.name);
    });
    app.on("issue_comment.created", async (context) => {
      if (await handleComment(context, deps)) metrics.webhookMatched(context.name);
    });
    app.on("check_run.rerequested", (context) => handleRerequestedCheck(context, { store, admission }));

    // A pull request's own routines.yml is validated here, never executed: routines run from the default branch.
    app.on(["pull_request.opened", "pull_request.reopened", "pull_request.synchronize"], async (context) => {
      const repository = context.repo();
      const { number, head } = context.payload.pull_request;
      if ((await configChangeInPullRequest(context.octokit, repository, number)) === undefined) return;
      const { conclusion } = await checkConfigAt(context.octokit, repository, head.sha, validateOptions());
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
        routines.invalidate(repository);
        const installationId = context.payload.installation?.id;
        if (scheduling && installationId !== undefined) await scheduleRepository(context.octokit, installationId, repository, scheduling);
      }
      if (configChangeInPush(push) !== "changed") return;
      const { conclusion } = await checkConfigAt(context.octokit, repository, push.after, validateOptions());
      context.log.info({ sha: push.after, conclusion }, "routines/config checked");
    });
  };
}
