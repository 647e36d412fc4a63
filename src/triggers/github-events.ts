// Repository events (pull_request, release, issues, workflow_run, deployment_status) → RunRequests
// for the routines they fire.
import type { Context } from "probot";
import { routineFacts } from "../config/environment-of.js";
import { LIMITS } from "../config/limits.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import { StepBudget } from "../config/step-budget.js";
import type { Admission, AdmissionResult } from "../runs/admission.js";
import type { RunRequest } from "../run-request.js";
import { sentByApp, type AppLogin } from "./app-identity.js";
import { eventFacts, type EventName } from "./event-facts.js";
import { readChangedFiles } from "./changed-files.js";
import { listeningTriggers, matchEvent, needsChangedFiles } from "./match-event.js";

export interface TriggerDeps {
  routines: RoutinesCache;
  admission: Admission;
  appLogin: AppLogin;
}

export const installationOf = (payload: unknown) => (payload as { installation?: { id: number } }).installation?.id;

/** Admits one run per routine that the event fires; resolves to what admission said of each. */
export async function handleRepositoryEvent(context: Context<EventName>, deps: TriggerDeps): Promise<AdmissionResult[]> {
  const installationId = installationOf(context.payload);
  if (installationId === undefined) return [];
  const repository = context.repo();
  // Cached after the first read: an event that fires nothing costs no GitHub call.
  const config = await deps.routines.load(context.octokit, repository);
  if (!config.found) return [];
  const event = context.name as EventName;
  // Only the triggers listening to this event and action are matched; most of a large file is not.
  const { action } = context.payload as { action?: unknown };
  if (typeof action === "string" && listeningTriggers(config.routines, event, action).length === 0) return [];
  const facts = eventFacts(event, context.payload);
  const listening = listeningTriggers(config.routines, event, facts.action);
  const budget = new StepBudget(LIMITS.matchingSteps);
  // The changed files cost a GitHub call: read only when a paths filter is all that is left to decide.
  if (facts.pullRequest && needsChangedFiles(config.routines, facts, listening, budget)) facts.changedFiles = await readChangedFiles(context.octokit, repository, facts.pullRequest.number);
  const { matched } = matchEvent(config.routines, facts, budget, listening);
  if (matched.length === 0 || (await sentByApp(facts.sender, deps.appLogin))) return [];

  // One run per routine, however many of its triggers match.
  const firstTrigger = new Map<string, number>();
  for (const { routine, trigger } of matched) if (!firstTrigger.has(routine)) firstTrigger.set(routine, trigger);

  const results: AdmissionResult[] = [];
  for (const [routine, index] of firstTrigger) {
    const request: RunRequest = {
      routine,
      repository,
      installationId,
      configSha: config.sha,
      trigger: { kind: "github", index, event, action: facts.action, deliveryId: context.id, sender: facts.sender.login },
      context: {
        ...(facts.pullRequest ? { pullRequest: facts.pullRequest } : {}),
        ...(facts.release ? { release: facts.release } : {}),
        ...(facts.issue ? { issue: facts.issue } : {}),
        ...(facts.workflowRun ? { workflowRun: facts.workflowRun } : {}),
        ...(facts.deployment ? { deployment: facts.deployment } : {}),
        withoutSecrets: facts.pullRequest?.fork !== undefined,
        ...routineFacts(config.routines[routine], config.environments, facts.pullRequest?.fork !== undefined),
      },
    };
    const result = await deps.admission.admit(request);
    const run = result.status === "duplicate" ? result.runId : result.run.id;
    context.log.info({ routine, run, status: result.status, ...(result.status === "rejected" ? { reason: result.reason } : {}) }, "run requested");
    results.push(result);
  }
  return results;
}
