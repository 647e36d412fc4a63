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
  /** For pull request runs: the head to check out, and the base to fetch for diffs. */
  pullRequest?: { number: number; headSha: string; baseRef: string };
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

const validRef = (name: string) => /^[A-Za-z0-9._/-]+$/.test(name) && !name.startsWith("-") && !name.includes("..");

export class Workspaces {
  /** One fetch at a time per repository cache. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(private readonly cacheDir: string) {}

  /** Fetches what the run needs into the repository's cache and checks it out in a new working tree. */
  async checkout(spec: CheckoutSpec, token: string): Promise<Workspace> {
    const { repository, defaultBranch, pullRequest } = spec;
    for (const ref of [defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : [])]) {
      if (!validRef(ref)) throw new WorkspaceError(`refusing the branch name ${JSON.stringify(ref)}`);
    }
    const cache = join(this.cacheDir, repository.owner, `${repository.repo}.git`);
    const onAuth = () => ({ username: "x-access-token", password: token });
    // Branches the working tree will know as origin/<name>, and the commit to check out.
    const branches = [...new Set([defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : [])])];
    const remoteShas = await this.#locked(cache, async () => {
      if (!fs.existsSync(join(cache, "HEAD"))) {
        await git.init({ fs, gitdir: cache, bare: true, defaultBranch });
        await git.addRemote({ fs, gitdir: cache, remote: "origin", url: spec.url });
        await git.setConfig({ fs, gitdir: cache, path: "remote.origin.fetch", value: "+refs/pull/*:refs/remotes/origin/pull/*", append: true });
      }
      // The URL without credentials: they go with each request.
      await git.setConfig({ fs, gitdir: cache, path: "remote.origin.url", value: spec.url });
      // Each fetched ref is kept under its own name too: isomorphic-git offers the local ref of the
      // same name as what the cache already has, so the next fetch downloads only what is new.
      const fetch = async (ref: string, local: string) => {
        const { fetchHead } = await git.fetch({ fs, http, gitdir: cache, remote: "origin", ref, remoteRef: ref, singleBranch: true, tags: false, onAuth });
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
      return shas;
    });

    const parent = await realpath(await mkdtemp(join(tmpdir(), "routines-work-")));
    const dir = join(parent, repository.repo);
    try {
      await git.init({ fs, dir, defaultBranch });
      await this.#shareObjects(cache, join(dir, ".git"));
      await git.addRemote({ fs, dir, remote: "origin", url: spec.url });
      for (const [branch, sha] of remoteShas) await git.writeRef({ fs, dir, ref: `refs/remotes/origin/${branch}`, value: sha, force: true });
      const head = pullRequest?.headSha ?? remoteShas.get(defaultBranch)!;
      if (pullRequest) {
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
