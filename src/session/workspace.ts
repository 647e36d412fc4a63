// Working trees for runs, made with isomorphic-git over HTTPS. Each repository has a bare cache
// that is fetched incrementally; a run's working tree shares the cache's pack files through hard
// links, so a second run on a repository downloads only what changed. The token goes with each
// request and is never written to a git config.
import * as fs from "node:fs";
import { copyFile, link, mkdir, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";
import type { RepositoryId } from "../run-request.js";

export interface CheckoutSpec {
  repository: RepositoryId;
  /** The clone URL, from the repository object (so GitHub Enterprise Server works unchanged). */
  url: string;
  defaultBranch: string;
  /** Where the working tree is made; default: the system's temporary directory. */
  into?: string;
  /** The working tree's own directory, made here (its parent must exist); instead of one made under `into`. */
  at?: string;
  /** For pull request runs: the head to check out, and the base to fetch for diffs. */
  pullRequest?: { number: number; headSha: string; baseRef: string };
  /** For release runs: the tag to check out (detached), the default branch still fetched. */
  tag?: string;
  /**
   * For workflow and deployment runs: the commit to check out (detached), which must be on `ref`
   * (a branch or tag; the default branch when absent or itself a commit), so that only the
   * repository's own history is ever checked out.
   */
  commit?: { sha: string; ref?: string };
}

export interface Workspace {
  /** The working tree, as a real path. */
  dir: string;
  repository: RepositoryId;
  /** The commit checked out. */
  head: string;
  remove(): Promise<void>;
}

export class WorkspaceError extends Error {
  override name = "WorkspaceError";
}

/**
 * Why git would refuse `name` as a branch (or tag) name, or undefined when it takes it: the rules
 * of `git check-ref-format --branch`. Names reach git commands and URLs, so nothing looser.
 */
export function refNameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  // An option to a git command, and HEAD itself: both refused for branches by git.
  if (name.startsWith("-")) return "it begins with -";
  if (name === "HEAD" || name === "@") return `${name} alone is not a branch name`;
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return `it contains the control character U+${code.toString(16).padStart(4, "0").toUpperCase()}`;
    if (char === " ") return "it contains a space";
    if ("~^:?*[\\".includes(char)) return `it contains ${char}`;
  }
  for (const sequence of ["..", "@{", "//"]) if (name.includes(sequence)) return `it contains ${sequence}`;
  if (name.startsWith("/") || name.endsWith("/")) return "it begins or ends with /";
  if (name.endsWith(".")) return "it ends with .";
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return `its part ${JSON.stringify(part)} begins with .`;
    if (part.endsWith(".lock")) return `its part ${JSON.stringify(part)} ends with .lock`;
  }
  return undefined;
}

export class Workspaces {
  /** One fetch at a time per repository cache. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(private readonly cacheDir: string) {}

  /** Fetches what the run needs into the repository's cache and checks it out in a new working tree. */
  async checkout(spec: CheckoutSpec, token: string): Promise<Workspace> {
    const { repository, defaultBranch, pullRequest, tag, commit } = spec;
    // A ref that is itself a commit proves nothing: the commit must then be on the default branch.
    const commitRef = commit?.ref !== undefined && !SHA.test(commit.ref) ? commit.ref : undefined;
    for (const ref of [defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : []), ...(tag !== undefined ? [tag] : []), ...(commitRef !== undefined ? [commitRef] : [])]) {
      const problem = refNameProblem(ref);
      if (problem) throw new WorkspaceError(`refusing the ${ref === tag ? "tag" : ref === commitRef ? "ref" : "branch"} name ${JSON.stringify(ref)}: ${problem}`);
    }
    if (commit && !SHA.test(commit.sha)) throw new WorkspaceError(`refusing ${JSON.stringify(commit.sha)}: not a commit's full sha`);
    const cache = join(this.cacheDir, repository.owner, `${repository.repo}.git`);
    const onAuth = () => ({ username: "x-access-token", password: token });
    // Branches the working tree will know as origin/<name>; the commit to check out is the pull
    // request's head, the release's tag, or the default branch.
    const branches = [...new Set([defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : [])])];
    const fetched = await this.#locked(cache, async () => {
      if (!fs.existsSync(join(cache, "HEAD"))) {
        await git.init({ fs, gitdir: cache, bare: true, defaultBranch });
        await git.addRemote({ fs, gitdir: cache, remote: "origin", url: spec.url });
        await git.setConfig({ fs, gitdir: cache, path: "remote.origin.fetch", value: "+refs/pull/*:refs/remotes/origin/pull/*", append: true });
      }
      // The URL without credentials: they go with each request.
      await git.setConfig({ fs, gitdir: cache, path: "remote.origin.url", value: spec.url });
      // Each fetched ref is kept under its own name too: isomorphic-git offers the local ref it is
      // given as what the cache already has, so the next fetch downloads only what is new. A ref
      // fetched for the first time offers the default branch, which it mostly shares.
      const fetch = async (ref: string, local: string) => {
        const known = await git.resolveRef({ fs, gitdir: cache, ref: local }).then(
          () => local,
          () => `refs/heads/${defaultBranch}`,
        );
        const { fetchHead } = await git.fetch({ fs, http, gitdir: cache, remote: "origin", ref: known, remoteRef: ref, singleBranch: true, tags: false, onAuth });
        if (fetchHead) await git.writeRef({ fs, gitdir: cache, ref: local, value: fetchHead, force: true });
        return fetchHead;
      };
      const shas = new Map<string, string>();
      for (const branch of branches) {
        const fetchHead = await fetch(branch, `refs/heads/${branch}`);
        if (!fetchHead) throw new WorkspaceError(`${repository.owner}/${repository.repo} has no branch ${branch}`);
        shas.set(branch, fetchHead);
      }
      if (pullRequest) {
        const ref = `refs/pull/${pullRequest.number}/head`;
        const fetchHead = await fetch(ref, ref);
        if (fetchHead !== pullRequest.headSha) {
          throw new WorkspaceError(`pull request #${pullRequest.number} moved on: its head is ${fetchHead ?? "gone"}, the run was for ${pullRequest.headSha}`);
        }
      }
      let tagged: string | undefined;
      if (tag !== undefined) {
        const ref = `refs/tags/${tag}`;
        tagged = (await fetch(ref, ref).catch((error: unknown) => {
          if (error instanceof git.Errors.NotFoundError) return undefined;
          throw error;
        })) ?? undefined;
        if (!tagged) throw new WorkspaceError(`${repository.owner}/${repository.repo} has no tag ${tag}`);
      }
      if (commit) {
        // The ref is fetched under a name of its own, so a later fetch of it downloads only what is new.
        const tip = commitRef === undefined
          ? shas.get(defaultBranch)!
          : await fetch(commitRef, `refs/routines/at/${commitRef}`).catch((error: unknown) => {
              if (error instanceof git.Errors.NotFoundError) return undefined;
              throw error;
            });
        if (!tip) throw new WorkspaceError(`${repository.owner}/${repository.repo} has no branch or tag ${commitRef}`);
        const head = await peel({ gitdir: cache }, tip);
        // Earlier runs may have left other commits in the cache (pull requests' heads, forks' among
        // them): the commit must be in the named ref's history, not merely present.
        if (head !== commit.sha && !(await git.isDescendent({ fs, gitdir: cache, oid: head, ancestor: commit.sha, depth: -1 }))) {
          throw new WorkspaceError(`commit ${commit.sha} is not on ${commitRef ?? `the default branch ${defaultBranch}`} of ${repository.owner}/${repository.repo} (its tip is ${head}): only the repository's own history is checked out`);
        }
      }
      return { shas, tagged };
    });

    // Inside the run's own directory when given (removed with it, and swept after a crash).
    const { parent, dir } = spec.at !== undefined ? await made(spec.at) : await underTemporary(spec.into ?? tmpdir(), repository.repo);
    try {
      await git.init({ fs, dir, defaultBranch });
      await this.#shareObjects(cache, join(dir, ".git"));
      await git.addRemote({ fs, dir, remote: "origin", url: spec.url });
      for (const [branch, sha] of fetched.shas) await git.writeRef({ fs, dir, ref: `refs/remotes/origin/${branch}`, value: sha, force: true });
      // As a clone has it, so `git diff origin/HEAD` works in the agent's shell.
      await git.writeRef({ fs, dir, ref: "refs/remotes/origin/HEAD", value: `refs/remotes/origin/${defaultBranch}`, symbolic: true, force: true });
      if (tag !== undefined && fetched.tagged) await git.writeRef({ fs, dir, ref: `refs/tags/${tag}`, value: fetched.tagged, force: true });
      const head = pullRequest?.headSha ?? commit?.sha ?? (fetched.tagged ? await peel({ dir }, fetched.tagged) : fetched.shas.get(defaultBranch)!);
      if (pullRequest || commit || fetched.tagged) {
        await git.checkout({ fs, dir, ref: head });
      } else {
        await git.writeRef({ fs, dir, ref: `refs/heads/${defaultBranch}`, value: head, force: true });
        await git.checkout({ fs, dir, ref: defaultBranch });
      }
      return { dir, repository, head, remove: () => rm(parent, { recursive: true, force: true }) };
    } catch (error) {
      await rm(parent, { recursive: true, force: true });
      throw error;
    }
  }

  /** Pack files never change once written: hard links share them; anything else is copied. */
  async #shareObjects(cache: string, gitdir: string): Promise<void> {
    const packs = join(cache, "objects", "pack");
    const target = join(gitdir, "objects", "pack");
    await mkdir(target, { recursive: true });
    for (const name of await readdir(packs).catch(() => [] as string[])) {
      await link(join(packs, name), join(target, name)).catch(() => copyFile(join(packs, name), join(target, name)));
    }
  }

  async #locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.#locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.#locks.get(key) === next) this.#locks.delete(key);
    }
  }
}

/** A new directory at `path` (never one that exists, nor through a link), as a real path. */
async function made(path: string): Promise<{ parent: string; dir: string }> {
  await mkdir(path);
  const dir = await realpath(path);
  return { parent: dir, dir };
}

async function underTemporary(into: string, name: string): Promise<{ parent: string; dir: string }> {
  const parent = await realpath(await mkdtemp(join(into, "routines-work-")));
  return { parent, dir: join(parent, name) };
}

const SHA = /^[0-9a-f]{40}$/;

/** The commit an annotated tag points to; a commit as it is. */
async function peel(where: { dir: string } | { gitdir: string }, oid: string): Promise<string> {
  const object = await git.readObject({ fs, ...where, oid });
  if (object.type === "commit") return oid;
  if (object.type === "tag") return peel(where, (await git.readTag({ fs, ...where, oid })).tag.object);
  throw new WorkspaceError(`the tag points to a ${object.type}, not a commit`);
}
