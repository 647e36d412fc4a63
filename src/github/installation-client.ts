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

/** What Probot's auth strategy hands an installation client's factory. */
interface FactoryOptions {
  octokit: Octokit;
  octokitOptions: { throttle?: { enabled?: boolean } & Record<string, unknown>; auth?: Record<string, unknown> } & Record<string, unknown>;
  [other: string]: unknown;
}

/**
 * The installation's client, as `app.auth(installationId)` makes it, but pacing its writes in a
 * lane of its own. Octokit's throttling lets one write a second through per lane, and Probot puts
 * every client of an installation in the same lane: writes in another lane never wait behind these.
 */
export async function installationClientInLane(app: Pick<Probot, "auth">, installationId: number, lane: string): Promise<Octokit> {
  const appClient = await app.auth();
  const client = await appClient.auth({
    type: "installation",
    installationId,
    factory: ({ octokit, octokitOptions, ...otherOptions }: FactoryOptions) => {
      const Client = octokit.constructor as new (options: unknown) => Octokit;
      return new Client({
        ...octokitOptions,
        throttle: octokitOptions.throttle?.enabled ? { ...octokitOptions.throttle, id: `${lane}:${installationId}` } : { enabled: false },
        auth: { ...octokitOptions.auth, otherOptions, installationId },
      });
    },
  });
  return client as Octokit;
}
