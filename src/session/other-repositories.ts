// The routine's repositories besides its own. Each must share itself with the routine's repository
// (share_with in its own routines.yml, on its default branch) and gets what it shares: read, or
// write. They are checked out inside the run's working tree, where the agent's tools reach them.
import { appendFile, lstat, mkdir } from "node:fs/promises";
import { join, posix } from "node:path";
import type { ShareAccess } from "../config/schema.js";
import { fullName, notSharedMessage, otherAccountMessage, sharedAccess, type ShareGrant } from "../config/share-with.js";
import type { RepositoryId } from "../run-request.js";

/** Where the other repositories are checked out, inside the working tree (and left out of its git status). */
export const OTHER_REPOSITORIES_DIR = ".routines/repos";

export interface OtherRepository {
  repository: RepositoryId;
  access: ShareAccess;
  /** The checkout, relative to the working tree: .routines/repos/<owner>/<name>. */
  path: string;
}

/** The share_with grants of a repository's routines.yml, or undefined when it has none. */
export type ShareWithOf = (repository: RepositoryId) => Promise<readonly ShareGrant[] | undefined>;

export class RepositoryAccessError extends Error {
  override name = "RepositoryAccessError";
}

/**
 * The routine's other repositories (each once, in the order written) with the access each shares
 * with `self`; a repository that does not share itself, or that is another account's, is refused,
 * all such at once, before anything is minted or checked out.
 */
export async function otherRepositories(entries: readonly string[] | undefined, self: RepositoryId, shareWithOf: ShareWithOf): Promise<OtherRepository[]> {
  const seen = new Set([fullName(self).toLowerCase()]);
  const named: RepositoryId[] = [];
  for (const entry of entries ?? []) {
    if (entry === "self") continue;
    const [owner = "", repo = ""] = entry.split("/");
    if (seen.has(entry.toLowerCase())) continue;
    seen.add(entry.toLowerCase());
    named.push({ owner, repo });
  }
  const refusals: string[] = [];
  const others: OtherRepository[] = [];
  for (const repository of named) {
    // An installation is one account's: a run's token reaches no other account's repositories.
    if (repository.owner.toLowerCase() !== self.owner.toLowerCase()) {
      refusals.push(otherAccountMessage(repository, self));
      continue;
    }
    const grants = await shareWithOf(repository);
    const access = grants && sharedAccess(grants, self);
    if (!access) {
      refusals.push(notSharedMessage(repository, self, { noFile: grants === undefined }));
      continue;
    }
    others.push({ repository, access, path: posix.join(OTHER_REPOSITORIES_DIR, repository.owner, repository.repo) });
  }
  if (refusals.length > 0) throw new RepositoryAccessError(refusals.join("; "));
  return others;
}

/**
 * Makes the directories the other repositories are checked out into, inside the own repository's
 * working tree, and leaves them out of its git status (so its pushes never carry them). Done before
 * any of the repository's code runs; a tree that has a .routines of its own is refused rather than
 * followed: it could be a link out of the working tree.
 */
export async function prepareCheckouts(root: string, others: readonly OtherRepository[]): Promise<void> {
  if (others.length === 0) return;
  const [top = ""] = OTHER_REPOSITORIES_DIR.split("/");
  const exists = await lstat(join(root, top)).then(
    () => true,
    () => false,
  );
  if (exists) throw new RepositoryAccessError(`the working tree has its own ${top}, where the routine's other repositories are checked out: rename it, or remove the other repositories from the routine`);
  await mkdir(join(root, top));
  for (const other of others) await mkdir(join(root, OTHER_REPOSITORIES_DIR, other.repository.owner), { recursive: true });
  await mkdir(join(root, ".git", "info"), { recursive: true });
  await appendFile(join(root, ".git", "info", "exclude"), `\n/${top}/\n`);
}
