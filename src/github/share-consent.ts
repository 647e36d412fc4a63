// Whether the other repositories a routines file names consent to its repository's runs, read as a
// run reads them: each one's .claude/routines.yml on its default branch, through the installation.
import type { Refusals } from "../config/consent-scope.js";
import { ConfigReadError, readConfigFile, type Octokit, type RepositoryRef } from "../config/read-config-file.js";
import { fullName, notSharedMessage, otherAccountMessage, sharedAccess, type ShareGrant } from "../config/share-with.js";

/** At most this many other repositories are read for one check; a file naming more is checked on the first ones. */
export const MAX_CONSENT_READS = 20;

/** The share_with grants a repository's routines file gives (validated as the server validates files). */
export type ShareWithIn = (source: string) => Promise<readonly ShareGrant[]>;

/** GitHub's answers for a repository the installation cannot read: missing, or not installed on it. */
const UNREADABLE = new Set([403, 404]);

/**
 * The named repositories (lower-cased owner/name, as `namedRepositories` gives them) that do not
 * share themselves with `self`, each with what to do about it. API failures other than "cannot
 * read" are thrown, as for the file being checked.
 */
export async function consentRefusals(octokit: Octokit, self: RepositoryRef, named: readonly string[], shareWithIn: ShareWithIn): Promise<Refusals> {
  const refusals: Record<string, string> = {};
  const own = fullName(self).toLowerCase();
  for (const entry of named.filter((name) => name !== own).slice(0, MAX_CONSENT_READS)) {
    const [owner = "", repo = ""] = entry.split("/");
    const target = { owner, repo };
    if (owner !== self.owner.toLowerCase()) {
      refusals[entry] = otherAccountMessage(target, self);
      continue;
    }
    let grants: readonly ShareGrant[] | undefined;
    try {
      const file = await readConfigFile(octokit, target);
      grants = file.found && "source" in file ? await shareWithIn(file.source) : undefined;
    } catch (error) {
      if (!(error instanceof ConfigReadError) || (error.status !== undefined && !UNREADABLE.has(error.status))) throw error;
      grants = undefined;
    }
    if (!grants || !sharedAccess(grants, self)) refusals[entry] = notSharedMessage(target, self, { noFile: grants === undefined });
  }
  return refusals;
}
