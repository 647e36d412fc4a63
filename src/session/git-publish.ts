// Committing the agent's changes and pushing them, for the tools that publish work. The branch
// policy lives here, in code: pushes go to claude/ branches unless the routine allows more, they
// never force, and a branch that already has commits gets the run's changes on top of them.
//
// One path per operation. Commits: native git in a git directory of the server's own (see
// native-commit.ts), because isomorphic-git hashed the whole tree in the server's thread to find
// what changed (2–4 s on thousands of files). Fetching, merging and pushing: isomorphic-git, which
// is given the URL itself and runs nothing the run's commands wrote into .git (hooks,
// core.fsmonitor, filter drivers, url rewrites that would send the token elsewhere), follows no
// alternates, and reads and writes only paths that resolve inside the tree (tree-file-system.ts:
// a link planted in .git or the tree leads nowhere else); they move only the run's few new objects.
import * as fs from "node:fs";
import { join, normalize } from "node:path";
import git, { type PromiseFsClient } from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { ToolError } from "./define-tool.js";
import type { GitHubRun } from "./github-run.js";
import { commitWorkingTree } from "./native-commit.js";
import { treeFileSystem } from "./tree-file-system.js";
import { refNameProblem } from "./workspace.js";

export const CLAUDE_BRANCH_PREFIX = "claude/";

/** Why a branch may not be pushed to, or undefined when it may. */
export function branchProblem(branch: string, allowUnrestricted: boolean): string | undefined {
  const problem = refNameProblem(branch);
  if (problem) return `${JSON.stringify(branch)} is not a valid branch name: ${problem}`;
  if (!allowUnrestricted && !branch.startsWith(CLAUDE_BRANCH_PREFIX)) {
    return `pushes go only to ${CLAUDE_BRANCH_PREFIX} branches: the routine does not set allow_unrestricted_branch_pushes`;
  }
  return undefined;
}

/** Commits every change in the working tree (ignored files aside); undefined when nothing changed. */
export function commitChanges(run: GitHubRun, message: string): Promise<string | undefined> {
  return commitWorkingTree(run.dir, run.author, run.redact(message));
}

/** Where the run's own commits begin: the commit the workspace started from (for a local checkout, the default branch). */
async function startOf(run: GitHubRun): Promise<string | undefined> {
  if (run.startCommit) return run.startCommit;
  return git.resolveRef({ fs: treeFileSystem(run.dir), dir: run.dir, ref: `refs/remotes/origin/${run.defaultBranch}` }).catch(() => undefined);
}

/** Whether HEAD has commits that the workspace did not start with: the run's own. */
export async function hasNewCommits(run: GitHubRun): Promise<boolean> {
  const head = await git.resolveRef({ fs: treeFileSystem(run.dir), dir: run.dir, ref: "HEAD" });
  return head !== (await startOf(run));
}

export type PushOutcome =
  | { kind: "created" | "updated"; commit: string }
  /** The branch had commits the run did not make: the run's changes were committed on top of them. */
  | { kind: "added on top"; commit: string }
  | { kind: "up to date" };

/**
 * Pushes the run's work to `branch`, never forcing. A new branch gets HEAD. A branch that already
 * exists is fetched first: when HEAD does not contain it, the run's own changes are committed on
 * top of it as one commit with `message`, and the working tree moves to that commit.
 */
export async function pushHead(run: GitHubRun, branch: string, message: string): Promise<PushOutcome> {
  const problem = branchProblem(branch, run.allowUnrestrictedBranchPushes);
  if (problem) throw new ToolError(problem);
  const dir = run.dir;
  const start = await startOf(run);
  const head = await git.resolveRef({ fs: treeFileSystem(dir), dir, ref: "HEAD" });
  const tip = await fetchBranch(run, branch, start);
  if (tip && (tip === head || (await descends(dir, tip, head)))) return { kind: "up to date" };
  if (!tip || (await descends(dir, head, tip))) {
    await send(run, branch, head, start, tip);
    return { kind: tip ? "updated" : "created", commit: head };
  }
  const commit = await commitOnTop(run, branch, { head, tip, start, message });
  await send(run, branch, commit, start, tip);
  await moveHead(dir, commit);
  return { kind: "added on top", commit };
}

const descends = (dir: string, oid: string, ancestor: string) => git.isDescendent({ fs: treeFileSystem(dir), dir, oid, ancestor, depth: -1 });
const onAuth = (run: GitHubRun) => () => ({ username: "x-access-token", password: run.token });
/**
 * Given, so isomorphic-git does not take `http.corsProxy` from the working tree's .git/config,
 * which the run's file tools can write: it would send the request, and the token with it, to
 * whatever URL is written there.
 */
const NO_PROXY = "";

/** The branch's tip on the remote, fetched into the working tree as origin/<branch>; undefined when there is no such branch. */
async function fetchBranch(run: GitHubRun, branch: string, start: string | undefined): Promise<string | undefined> {
  try {
    // `ref` names what the working tree already has (the remote's own commit the run started
    // from), so the fetch downloads only the branch's commits after it.
    const { fetchHead } = await git.fetch({
      fs: treeFileSystem(run.dir),
      http,
      dir: run.dir,
      remote: "origin",
      url: run.url,
      ref: start ?? "HEAD",
      remoteRef: `refs/heads/${branch}`,
      singleBranch: true,
      tags: false,
      onAuth: onAuth(run),
      corsProxy: NO_PROXY,
    });
    return fetchHead ?? undefined;
  } catch (error) {
    if (error instanceof git.Errors.NotFoundError) return undefined;
    throw error;
  }
}

/**
 * A commit with the branch's tip as parent and the run's own changes (start..HEAD, or since the
 * last commit of HEAD the branch has) applied to the tip's files: a three-way merge, so changes
 * on both sides to different places combine, and the same lines changed differently conflict.
 */
async function commitOnTop(
  run: GitHubRun,
  branch: string,
  { head, tip, start, message }: { head: string; tip: string; start: string | undefined; message: string },
): Promise<string> {
  const dir = run.dir;
  // The run's changes begin at the start, or later where an earlier push of this run left them.
  const [meet] = await git.findMergeBase({ fs: treeFileSystem(dir), dir, oids: [head, tip] });
  const after = async (oid: string) => !start || oid === start || (await descends(dir, oid, start));
  const base = meet && (await after(meet)) ? meet : (start ?? meet);
  if (!base) throw new ToolError(`${branch} has no history in common with the working tree: push to a new branch instead`);
  // isomorphic-git merges from the merge base it finds. A commit of the tip's files whose parent
  // is `base` makes that the merge base, so only the run's own changes are merged in.
  const tipTree = (await git.readCommit({ fs: treeFileSystem(dir), dir, oid: tip })).commit.tree;
  const author = run.author;
  const scaffold = await git.commit({ fs: treeFileSystem(dir), dir, message: `${branch} on top of ${base}`, tree: tipTree, parent: [base], author, noUpdateBranch: true });
  let tree: string | undefined;
  try {
    ({ tree } = await git.merge({ fs: treeFileSystem(dir), dir, ours: scaffold, theirs: head, fastForward: false, noUpdateBranch: true, abortOnConflict: true, author, message: "merge" }));
  } catch (error) {
    if (error instanceof git.Errors.MergeConflictError) throw new ToolError(conflictText(branch, error.data));
    if (error instanceof git.Errors.MergeNotSupportedError) {
      throw new ToolError(conflictText(branch, { bothModified: await changedOnBothSides(dir, base, tip, head), deleteByUs: [], deleteByTheirs: [] }));
    }
    throw error;
  }
  if (!tree) throw new ToolError("there is nothing to push: edit files first");
  return git.commit({ fs: treeFileSystem(dir), dir, message: run.redact(message), tree, parent: [tip], author, noUpdateBranch: true });
}

function conflictText(branch: string, conflicts: { bothModified: string[]; deleteByUs: string[]; deleteByTheirs: string[] }): string {
  const parts = [
    conflicts.bothModified.length ? `you and ${branch} both changed ${conflicts.bothModified.join(", ")}` : "",
    conflicts.deleteByUs.length ? `${branch} deleted ${conflicts.deleteByUs.join(", ")}, which you changed` : "",
    conflicts.deleteByTheirs.length ? `you deleted ${conflicts.deleteByTheirs.join(", ")}, which ${branch} changed` : "",
  ].filter(Boolean);
  return (
    `${branch} has commits this run did not make, and your changes conflict with them: ${parts.join("; ") || "the same files changed on both sides"}. ` +
    `Nothing was pushed. The branch is fetched as origin/${branch} (see \`git diff HEAD...origin/${branch}\`): ` +
    `change your edits so they no longer touch what it changed, or push to a branch of another name.`
  );
}

/** Files whose contents differ from `base` in both `ours` and `theirs`, and differ from each other. */
async function changedOnBothSides(dir: string, base: string, ours: string, theirs: string): Promise<string[]> {
  const paths: string[] = [];
  await git.walk({
    fs: treeFileSystem(dir),
    dir,
    trees: [git.TREE({ ref: base }), git.TREE({ ref: ours }), git.TREE({ ref: theirs })],
    map: async (path, [b, o, t]) => {
      const [bo, oo, to] = await Promise.all([b?.oid(), o?.oid(), t?.oid()]);
      if (oo === bo || to === bo) return null; // not changed on both sides: nothing below it conflicts
      if (oo !== to && (await o?.type()) !== "tree" && (await t?.type()) !== "tree") paths.push(path);
      return true;
    },
  });
  return paths;
}

/** Sends `commit` to the branch; the pack holds what the remote lacks and nothing it already has. */
async function send(run: GitHubRun, branch: string, commit: string, start: string | undefined, tip: string | undefined): Promise<void> {
  // History below the start is the remote's, unless the branch's tip lies in it (then the walk
  // must reach it to prove the push a fast-forward).
  const tipBelowStart = !!(start && tip && tip !== start && (await descends(run.dir, start, tip)));
  try {
    await git.push({
      fs: start ? knownToRemote(run.dir, start, { boundary: !tipBelowStart }) : treeFileSystem(run.dir),
      http,
      dir: run.dir,
      remote: "origin",
      url: run.url,
      ref: commit,
      remoteRef: `refs/heads/${branch}`,
      onAuth: onAuth(run),
      corsProxy: NO_PROXY,
    });
  } catch (error) {
    // isomorphic-git's own texts suggest forcing, which is never the way here.
    if (error instanceof git.Errors.PushRejectedError) {
      throw new ToolError(`${branch} changed on GitHub while pushing. Nothing was pushed: call push_branch again to add your changes on top of it`);
    }
    if (error instanceof git.Errors.GitPushError) {
      const refused = Object.values(error.data.result.refs).map((ref) => ref.error).filter(Boolean);
      throw new ToolError(`GitHub refused the push to ${branch}: ${refused.join("; ") || "no reason given"}`);
    }
    throw error;
  }
}

/**
 * The file system as isomorphic-git's push is to see it. The push sends the objects of every
 * commit from the pushed one down to the first commit the remote advertises, less the files of
 * the merge base with the remote branch and of refs/remotes/origin/HEAD. The commit the run
 * started from is the remote's (the workspace was fetched from it), but once the default branch
 * or the pull request moves on nobody advertises it, and the walk went down the whole history.
 * Presented as a shallow boundary and as origin/HEAD, it ends the walk and its files stay out of
 * the pack. Nothing is written: the working tree stays as it is for everyone else.
 */
function knownToRemote(dir: string, start: string, { boundary }: { boundary: boolean }): PromiseFsClient {
  const gitdir = join(dir, ".git");
  const presented = new Map([[join(gitdir, "refs", "remotes", "origin", "HEAD"), `${start}\n`]]);
  if (boundary) presented.set(join(gitdir, "shallow"), `${start}\n`);
  const tree = treeFileSystem(dir).promises;
  const readFile = (path: fs.PathLike, options?: { encoding?: BufferEncoding | null } | BufferEncoding) => {
    const text = typeof path === "string" ? presented.get(normalize(path)) : undefined;
    if (text === undefined) return tree.readFile(path, options);
    return Promise.resolve(options === undefined || (typeof options === "object" && !options.encoding) ? Buffer.from(text) : text);
  };
  return { promises: { ...tree, readFile } };
}

/** Moves HEAD (the branch checked out, or a detached HEAD) to `commit`, updating the files. */
async function moveHead(dir: string, commit: string): Promise<void> {
  const fs = treeFileSystem(dir);
  const branch = await git.currentBranch({ fs, dir });
  if (branch) {
    await git.writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: commit, force: true });
    await git.checkout({ fs, dir, ref: branch, force: true });
  } else {
    await git.checkout({ fs, dir, ref: commit, force: true });
  }
}
