// The installation's client for a repository, found through the app's own credentials.
import type { Probot } from "probot";
import type { Octokit, RepositoryRef } from "../config/read-config-file.js";

export type InstallationFor = (repository: RepositoryRef) => Promise<{ octokit: Octokit; installationId: number } | undefined>;

/** Undefined when the app is not installed on the repository. */
export function installationFor(app: Pick<Probot, "auth">): InstallationFor {
  return async ({ owner, repo }) => {
    try {
      const { data } = await (await app.auth()).rest.apps.getRepoInstallation({ owner, repo });
      return { installationId: data.id, octokit: await app.auth(data.id) };
    } catch (error) {
      if ((error as { status?: number }).status === 404) return undefined;
      throw error;
    }
  };
}
