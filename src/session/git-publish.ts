// Committing the agent's changes and pushing them, for the tools that publish work. The branch
// policy lives here, in code: pushes go to claude/ branches unless the routine allows more.
import * as fs from "node:fs";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { ToolError } from "./define-tool.js";
import type { GitHubRun } from "./github-run.js";

export const CLAUDE_BRANCH_PREFIX = "claude/";

/** Why a branch may not be pushed to, or undefined when it may. */
export function branchProblem(branch: string, allowUnrestricted: boolean): string | undefined {
  if (
    !/^[A-Za-z0-9._/-]+$/.test(branch) ||
    branch.startsWith("-") ||
    branch.startsWith("/") ||
    branch.endsWith("/") ||
    branch.endsWith(".lock") ||
    branch.includes("..") ||
    branch.includes("//")
  ) {
    return `${JSON.stringify(branch)} is not a valid branch name`;
  }
  if (!allowUnrestricted && !branch.startsWith(CLAUDE_BRANCH_PREFIX)) {
    return `pushes go only to ${CLAUDE_BRANCH_PREFIX} branches: the routine does not set allow_unrestricted_branch_pushes`;
  }
  return undefined;
}

/** Commits every change in the working tree (ignored files aside); undefined when nothing changed. */
export async function commitChanges(run: GitHubRun, message: string): Promise<string | undefined> {
  const dir = run.dir;
  const matrix = await git.statusMatrix({ fs, dir });
  const changed = matrix.filter(([, head, workdir, stage]) => head !== workdir || workdir !== stage);
  if (changed.length === 0) return undefined;
  for (const [filepath, , workdir] of changed) {
    if (workdir === 0) await git.remove({ fs, dir, filepath });
    else await git.add({ fs, dir, filepath });
  }
  return git.commit({ fs, dir, message: run.redact(message), author: run.author });
}

/** Pushes HEAD to `branch` on the run's repository, never forcing. */
export async function pushHead(run: GitHubRun, branch: string): Promise<void> {
  const problem = branchProblem(branch, run.allowUnrestrictedBranchPushes);
  if (problem) throw new ToolError(problem);
  const result = await git.push({
    fs,
    http,
    dir: run.dir,
    url: run.url,
    ref: "HEAD",
    remoteRef: `refs/heads/${branch}`,
    onAuth: () => ({ username: "x-access-token", password: run.token }),
  });
  const refResult = result.refs[`refs/heads/${branch}`];
  if (!result.ok || (refResult && !refResult.ok)) throw new ToolError(`the push to ${branch} was refused: ${refResult?.error ?? result.error ?? "unknown reason"}`);
}

/** Whether HEAD has commits that the default branch does not. */
export async function hasNewCommits(run: GitHubRun): Promise<boolean> {
  const head = await git.resolveRef({ fs, dir: run.dir, ref: "HEAD" });
  const base = await git.resolveRef({ fs, dir: run.dir, ref: `refs/remotes/origin/${run.defaultBranch}` }).catch(() => undefined);
  return head !== base;
}
