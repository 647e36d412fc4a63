// GitHub's "Re-run" button on a routine's check run: a new run of that routine on the pull
// request's current head (which may have moved on since the check's commit), or on the same
// commit for a workflow or deployment run, with the same context as the run the check was for.
import type { Context } from "probot";
import { commitOf, type RunRequest } from "../run-request.js";
import type { Admission, AdmissionResult } from "../runs/admission.js";
import type { RunStore } from "../runs/store.js";
import { pullRequestContextOf } from "./event-facts.js";

export async function handleRerequestedCheck(
  context: Context<"check_run.rerequested">,
  deps: { store: RunStore; admission: Admission },
): Promise<AdmissionResult | undefined> {
  const check = context.payload.check_run;
  if (!check.name.startsWith("routines/") || !check.external_id) return undefined;
  const previous = await deps.store.getRun(check.external_id);
  const { owner, repo } = context.repo();
  if (!previous || previous.repository.owner !== owner || previous.repository.repo !== repo || commitOf(previous) === undefined) return undefined;
  const { trigger } = previous;
  // The rerun is a new delivery: it is deduplicated on its own id, not on the first run's.
  const rerun: RunRequest["trigger"] = trigger.kind === "github" || trigger.kind === "command" ? { ...trigger, deliveryId: context.id } : trigger;
  const pullRequest = previous.context.pullRequest;
  // A workflow or deployment run is about its commit, which does not move: it runs there again.
  const current = pullRequest ? { pullRequest: pullRequestContextOf((await context.octokit.rest.pulls.get({ owner, repo, pull_number: pullRequest.number })).data) } : {};
  const result = await deps.admission.admit({
    routine: previous.routine,
    repository: previous.repository,
    installationId: previous.installationId,
    configSha: previous.configSha,
    trigger: rerun,
    context: { ...previous.context, ...current },
  });
  context.log.info({ routine: previous.routine, previous: previous.id, status: result.status }, "run requested again from its check");
  return result;
}
