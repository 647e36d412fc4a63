// Who is signed in, and what GitHub said at sign-in that they can reach: the installations of
// this app they can access, the repositories in each, and their permission on each.
import type { RepositoryId } from "../../run-request.js";

export interface ViewerRepository extends RepositoryId {
  /** Write, maintain or admin: may start runs and manage tokens (checked again with GitHub on each change). */
  write: boolean;
  private: boolean;
}

export interface ViewerInstallation {
  id: number;
  account: string;
  accountType: "User" | "Organization";
  /** The account itself, or an owner of the organization: may use the installation's kill switch. */
  admin: boolean;
  repositories: ViewerRepository[];
}

export interface Viewer {
  login: string;
  avatarUrl?: string;
  installations: ViewerInstallation[];
}

/** GitHub's owner and repository names are case-insensitive. */
export const sameRepository = (a: RepositoryId, b: RepositoryId) => a.owner.toLowerCase() === b.owner.toLowerCase() && a.repo.toLowerCase() === b.repo.toLowerCase();

/** The viewer's repository and its installation, when they can access it. */
export function accessTo(viewer: Viewer, repository: RepositoryId): { installation: ViewerInstallation; repository: ViewerRepository } | undefined {
  for (const installation of viewer.installations) {
    const found = installation.repositories.find((candidate) => sameRepository(candidate, repository));
    if (found) return { installation, repository: found };
  }
  return undefined;
}

export const allRepositories = (viewer: Viewer): ViewerRepository[] => viewer.installations.flatMap((installation) => installation.repositories);
