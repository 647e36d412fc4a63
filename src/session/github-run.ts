// What the GitHub tools of one run share: the run's client and token, where it works, and the
// rules it works under. Every text bound for GitHub passes through the run's redactor.
import type { Octokit } from "../config/read-config-file.js";
import type { ShareAccess } from "../config/schema.js";
import type { PullRequestContext, RepositoryId } from "../run-request.js";
import { ToolError } from "./define-tool.js";
import type { Redactor } from "./redact.js";

export interface GitHubRun {
  octokit: Octokit;
  /** Used only for git transport; never shown to the model or written to disk. */
  token: string;
  repository: RepositoryId;
  /** The working tree of `repository`, and its clone URL (without credentials). */
  dir: string;
  url: string;
  defaultBranch: string;
  /**
   * The commit the working tree was checked out at: the run's own work is what comes after it.
   * Unknown for a local checkout, where the default branch stands in.
   */
  startCommit?: string;
  pullRequest?: PullRequestContext;
  /** The issue a slash command came from, when not a pull request. */
  issueNumber?: number;
  routine: string;
  runId: string;
  allowUnrestrictedBranchPushes: boolean;
  author: { name: string; email: string };
  redact: Redactor;
  /** The run's other repositories, by "owner/name": those shared for writing have their own run to push with. */
  others?: Array<{ name: string; access: ShareAccess; run?: GitHubRun }>;
  /** With dry runs, writes are described to `print` and not sent. */
  dryRun?: { print(text: string): void };
}

/** The hidden mark that identifies what a routine posted, so a rerun does not post it again. */
export const fingerprintMark = (fingerprint: string) => `<!-- routines:${fingerprint} -->`;
export const FINGERPRINT = /<!-- routines:([0-9a-f]{16}) -->/;

/**
 * The run a publishing tool acts on: the own repository's, or that of another repository of the
 * run named as "owner/name", which must be shared for writing.
 */
export function publishingRun(run: GitHubRun, repository: string | undefined): GitHubRun {
  const own = `${run.repository.owner}/${run.repository.repo}`;
  if (repository === undefined || repository.toLowerCase() === own.toLowerCase()) return run;
  const other = run.others?.find((candidate) => candidate.name.toLowerCase() === repository.toLowerCase());
  if (!other) {
    const names = [own, ...(run.others ?? []).map((candidate) => candidate.name)];
    throw new ToolError(`${repository} is not one of this run's repositories (${names.join(", ")})`);
  }
  if (!other.run) throw new ToolError(`${other.name} is read-only in this run: it shares itself with ${own} for reading only, so nothing is pushed to it`);
  return other.run;
}
