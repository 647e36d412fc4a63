// What the GitHub tools of one run share: the run's client and token, where it works, and the
// rules it works under. Every text bound for GitHub passes through the run's redactor.
import type { Octokit } from "../config/read-config-file.js";
import type { ShareAccess } from "../config/schema.js";
import { fullName } from "../config/share-with.js";
import type { PullRequestContext, RepositoryId } from "../run-request.js";
import { ToolError } from "./define-tool.js";
import type { GitHubWrites } from "./github-writes.js";
import type { Redactor } from "./redact.js";
import type { ReviewScope } from "./review-scope.js";

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
  /** A pull request run's diff, the coverage of it, and the verifier of findings (see review-scope.ts). */
  review?: ReviewScope;
  /** The issue a slash command came from, when not a pull request. */
  issueNumber?: number;
  routine: string;
  runId: string;
  allowUnrestrictedBranchPushes: boolean;
  author: { name: string; email: string };
  redact: Redactor;
  /**
   * The run's other repositories, by "owner/name", each with a client of its own token (for reads);
   * those shared for writing have their own run to push and post with.
   */
  others?: Array<{ name: string; access: ShareAccess; octokit: Octokit; run?: GitHubRun }>;
  /** The run's cap on GitHub writes, shared by every repository it writes to. */
  writes: GitHubWrites;
  /** With dry runs, writes are described to `print` and not sent. */
  dryRun?: { print(text: string): void };
}

/** The hidden mark that identifies what a routine posted, so a rerun does not post it again. */
export const fingerprintMark = (fingerprint: string) => `<!-- routines:${fingerprint} -->`;
/** Any mark of the routines, with what follows its fingerprint (see findingMark). */
export const FINGERPRINT = /<!-- routines:([0-9a-f]{16})(?: [^<>]*?)? -->/;

/** Where a finding is: a file, a side of the diff and a range of lines. */
export interface FindingPlace {
  path: string;
  side: "LEFT" | "RIGHT";
  start: number;
  end: number;
}

/**
 * A finding's mark also names the routine that posted it and its place, so a later run knows its
 * own threads and finds the findings a review's summary carries (those outside the diff).
 */
export const findingMark = (fingerprint: string, routine: string, { path, side, start, end }: FindingPlace) =>
  `<!-- routines:${fingerprint} routine:${routine} at:${encodeURIComponent(path)}:${side}:${start}-${end} -->`;
export const FINDING = /<!-- routines:([0-9a-f]{16}) routine:([A-Za-z0-9_-]+) at:([^:<>\s]*):(LEFT|RIGHT):(\d+)-(\d+) -->/;

/** The run's repositories, own first, as the messages that refuse another one name them. */
function runRepositories(run: GitHubRun): string {
  return [fullName(run.repository), ...(run.others ?? []).map((other) => other.name)].join(", ");
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The run a publishing tool acts on: the own repository's, or that of another repository of the
 * run named as "owner/name", which must be shared for writing.
 */
export function publishingRun(run: GitHubRun, repository: string | undefined): GitHubRun {
  const own = fullName(run.repository);
  if (repository === undefined || sameName(repository, own)) return run;
  const other = run.others?.find((candidate) => sameName(candidate.name, repository));
  if (!other) throw new ToolError(`${repository} is not one of this run's repositories (${runRepositories(run)})`);
  if (!other.run) throw new ToolError(`${other.name} is read-only in this run: it shares itself with ${own} for reading only, so nothing is pushed or posted to it`);
  return other.run;
}

/** A repository a tool reads from, with the client whose token reaches it. */
export interface ReadTarget {
  octokit: Octokit;
  repository: RepositoryId;
}

/** Where a reading tool looks: the own repository, or another of the run's, named as "owner/name". */
export function readingTarget(run: GitHubRun, repository: string | undefined): ReadTarget {
  if (repository === undefined || sameName(repository, fullName(run.repository))) return { octokit: run.octokit, repository: run.repository };
  const other = run.others?.find((candidate) => sameName(candidate.name, repository));
  if (!other) throw new ToolError(`${repository} is not one of this run's repositories (${runRepositories(run)})`);
  const [owner = "", repo = ""] = other.name.split("/");
  return { octokit: other.octokit, repository: { owner, repo } };
}
