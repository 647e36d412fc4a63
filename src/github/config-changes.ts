// Whether a push or a pull request changes the routines config, read from the event (push) or
// from the pull request's file list.
import { CONFIG_PATH, type Octokit, type RepositoryRef } from "../config/read-config-file.js";

export type ConfigChange = "changed" | "removed" | undefined;

export interface PushPayload {
  ref: string;
  before: string;
  after: string;
  forced?: boolean;
  deleted?: boolean;
  commits?: Array<{ added?: string[]; removed?: string[]; modified?: string[] }>;
  repository: { default_branch?: string };
}

/** GitHub lists at most this many commits in a push payload; a longer push may hide files. */
const MAX_PUSH_COMMITS = 2048;
const ZERO_SHA = /^0+$/;

export const isDefaultBranchPush = (push: PushPayload) =>
  !push.deleted && push.repository.default_branch !== undefined && push.ref === `refs/heads/${push.repository.default_branch}`;

/** Whether the push may have changed anything under .claude/; unsure counts as yes. */
export function pushTouchesClaudeFolder(push: PushPayload): boolean {
  const commits = push.commits ?? [];
  if (push.forced || ZERO_SHA.test(push.before) || commits.length >= MAX_PUSH_COMMITS) return true;
  return commits.some((commit) =>
    [...(commit.added ?? []), ...(commit.removed ?? []), ...(commit.modified ?? [])].some((path) => path.startsWith(".claude/")),
  );
}

/** How the push leaves the config file: changed (added or modified), removed, or untouched. */
export function configChangeInPush(push: PushPayload): ConfigChange {
  let change: ConfigChange;
  for (const commit of push.commits ?? []) {
    if ([...(commit.added ?? []), ...(commit.modified ?? [])].includes(CONFIG_PATH)) change = "changed";
    if ((commit.removed ?? []).includes(CONFIG_PATH)) change = "removed";
  }
  return change;
}

/** How the pull request changes the config file, from its list of changed files. */
export async function configChangeInPullRequest(octokit: Octokit, repository: RepositoryRef, pullNumber: number): Promise<ConfigChange> {
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, { ...repository, pull_number: pullNumber, per_page: 100 });
  const file = files.find((candidate) => candidate.filename === CONFIG_PATH || candidate.previous_filename === CONFIG_PATH);
  if (!file) return undefined;
  return file.status === "removed" || file.filename !== CONFIG_PATH ? "removed" : "changed";
}
