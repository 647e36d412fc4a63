// Keeps the scheduler in step with GitHub: every repository of every installation at start, and
// again when a repository's routines or the installation's repositories change.
import type { Probot } from "probot";
import type { Octokit } from "../config/read-config-file.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import type { RepositoryId } from "../run-request.js";
import type { Scheduler } from "./scheduler.js";

export interface SchedulingDeps {
  scheduler: Scheduler;
  routines: RoutinesCache;
  onError: (error: unknown, repository: string) => void;
}

/** Registers the schedules of the repository's routines on its default branch. */
export async function scheduleRepository(octokit: Octokit, installationId: number, repository: RepositoryId, deps: SchedulingDeps): Promise<void> {
  const config = await deps.routines.load(octokit, repository);
  if (!config.found) return deps.scheduler.unregister(repository);
  await deps.scheduler.register({ repository, installationId, configSha: config.sha, routines: config.routines, environments: config.environments });
}

/** Registers every repository of the installation; one that fails does not stop the others. */
export async function scheduleInstallation(app: Pick<Probot, "auth">, installationId: number, deps: SchedulingDeps, repositories?: RepositoryId[]): Promise<void> {
  const octokit = await app.auth(installationId);
  const targets =
    repositories ??
    (await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 })).map((repo) => ({ owner: repo.owner.login, repo: repo.name }));
  for (const repository of targets) {
    await scheduleRepository(octokit, installationId, repository, deps).catch((error: unknown) => deps.onError(error, `${repository.owner}/${repository.repo}`));
  }
}

/** Registers every repository of every installation that is not suspended. */
export async function scheduleAll(app: Pick<Probot, "auth">, deps: SchedulingDeps): Promise<void> {
  const octokit = await app.auth();
  const installations = await octokit.paginate(octokit.rest.apps.listInstallations, { per_page: 100 });
  for (const installation of installations) {
    if (installation.suspended_at) continue;
    await scheduleInstallation(app, installation.id, deps).catch((error: unknown) => deps.onError(error, `installation ${installation.id}`));
  }
}

const toRepository = ({ full_name: fullName = "" }: { full_name?: string }): RepositoryId => {
  const [owner = "", repo = ""] = fullName.split("/");
  return { owner, repo };
};

/** Registers every installation's schedules now, and follows installations as they change. */
export function keepSchedulesCurrent(app: Probot, deps: SchedulingDeps): void {
  void scheduleAll(app, deps).catch((error: unknown) => deps.onError(error, "installations"));
  app.on(["installation.created", "installation.unsuspend"], (context) => scheduleInstallation(app, context.payload.installation.id, deps));
  app.on(["installation.deleted", "installation.suspend"], async (context) => deps.scheduler.unregisterInstallation(context.payload.installation.id));
  app.on("installation_repositories", async (context) => {
    const { installation, repositories_added: added, repositories_removed: removed } = context.payload;
    for (const repository of removed.map(toRepository)) deps.scheduler.unregister(repository);
    if (added.length > 0) await scheduleInstallation(app, installation.id, deps, added.map(toRepository));
  });
}
