// A repository's consent to take part in other repositories' runs: the share_with list of its own
// routines.yml. A routine's `repositories:` may name another repository only when that one shares
// itself with the routine's repository; what it shares (read or write) bounds the run's token there.
import type { RepositoryId } from "../run-request.js";
import type { Share, ShareAccess } from "./schema.js";

/** One entry of share_with, as written: `owner/name` or `owner/*`, lower-cased. */
export interface ShareGrant {
  repository: string;
  access: ShareAccess;
}

export const fullName = ({ owner, repo }: RepositoryId) => `${owner}/${repo}`;

export function shareGrants(shares: readonly Share[]): ShareGrant[] {
  return shares.map((share) =>
    typeof share === "string" ? { repository: share.toLowerCase(), access: "read" } : { repository: share.repository.toLowerCase(), access: share.access ?? "read" },
  );
}

/** What `grants` give `caller`: the strongest access of the entries that name it, or undefined. */
export function sharedAccess(grants: readonly ShareGrant[], caller: RepositoryId): ShareAccess | undefined {
  const name = fullName(caller).toLowerCase();
  const owner = `${caller.owner.toLowerCase()}/*`;
  const matching = grants.filter((grant) => grant.repository === name || grant.repository === owner);
  if (matching.length === 0) return undefined;
  return matching.some((grant) => grant.access === "write") ? "write" : "read";
}

/** Why another account's repository cannot take part: an installation's tokens reach one account. */
export function otherAccountMessage(target: RepositoryId, caller: RepositoryId): string {
  return `${fullName(target)} is not ${caller.owner}'s: a routine of ${fullName(caller)} can check out only repositories of ${caller.owner}`;
}

/**
 * What the shared repository's file needs for `caller`'s runs to use it, as both sides read it;
 * `noFile` when the repository has no routines file the app can read (or the app is not on it).
 */
export function notSharedMessage(target: RepositoryId, caller: RepositoryId, { noFile = false } = {}): string {
  const [t, c] = [fullName(target), fullName(caller)];
  return (
    `${t} does not share itself with ${c}${noFile ? ` (the app finds no .claude/routines.yml there, or is not installed on it)` : ""}: ` +
    `for ${c}'s routines to check it out, ${t}'s .claude/routines.yml on its default branch needs ` +
    `"share_with: [${c}]" (read-only), or "share_with: [{ repository: ${c}, access: write }]" to let them push claude/ branches there; ` +
    `otherwise remove ${t} from the routine's repositories`
  );
}
