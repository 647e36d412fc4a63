// Working trees for runs, made with native git. Each repository has a cache: a full clone with a
// pristine working tree, kept fresh with incremental `git fetch` (full history, so the ancestry
// check of deployment runs and the merge bases of pushes have what they need). A run's working
// tree is a copy of the cache moved to the commit the run wants: copying files is several times
// cheaper than writing them out of packs, and the copy shares nothing with the cache or with
// other runs (no hard links, no alternates), so the run's commands can change all of it.
//
// Native git, not isomorphic-git: isomorphic-git took 4–10× as long as a native clone and held
// the server's event loop for seconds while checking out. Git is a required system package.
// Every command is a child process; the token reaches it only through its environment (see
// native-git.ts) and is never written to the cache or the working tree.
import { execFile } from "node:child_process";
import { access, copyFile, mkdir, mkdtemp, readdir, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { RepositoryId } from "../run-request.js";
import { withFileLock } from "./file-lock.js";
import { restampIndex } from "./index-stamps.js";
import { git, GitCommandError, gitAnswers } from "./native-git.js";

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
  /** Spares being made, in the background. */
  readonly #making = new Set<Promise<void>>();

  constructor(private readonly cacheDir: string) {}

  /** Resolves once no spare is being made (for tests and measurements). */
  async idle(): Promise<void> {
    while (this.#making.size > 0) await Promise.all(this.#making);
  }

  /** Makes the repository's next spare, in the background, unless one is there. */
  #makeSpare(cache: string): void {
    const making = withFileLock(`${cache}.lock`, async () => {
      const spare = spareOf(cache);
      if (await exists(spare)) return;
      const partial = `${spare}-making`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial);
      await copy(cache, partial);
      await restampIndex(partial);
      await rename(partial, spare);
      // A spare that could not be made only means the next run copies the cache itself.
    }).catch(() => undefined);
    this.#making.add(making);
    void making.finally(() => this.#making.delete(making));
  }

  /** Fetches what the run needs into the repository's cache and makes the run's working tree from it. */
  async checkout(spec: CheckoutSpec, token: string): Promise<Workspace> {
    const { repository, defaultBranch, pullRequest, tag, commit } = spec;
    // A ref that is itself a commit proves nothing: the commit must then be on the default branch.
    const commitRef = commit?.ref !== undefined && !SHA.test(commit.ref) ? commit.ref : undefined;
    for (const ref of [defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : []), ...(tag !== undefined ? [tag] : []), ...(commitRef !== undefined ? [commitRef] : [])]) {
      const problem = refNameProblem(ref);
      if (problem) throw new WorkspaceError(`refusing the ${ref === tag ? "tag" : ref === commitRef ? "ref" : "branch"} name ${JSON.stringify(ref)}: ${problem}`);
    }
    if (commit && !SHA.test(commit.sha)) throw new WorkspaceError(`refusing ${JSON.stringify(commit.sha)}: not a commit's full sha`);
    if (pullRequest && !SHA.test(pullRequest.headSha)) throw new WorkspaceError(`refusing ${JSON.stringify(pullRequest.headSha)}: not a commit's full sha`);
    const cache = join(this.cacheDir, repository.owner, `${repository.repo}.tree`);
    const name = `${repository.owner}/${repository.repo}`;
    // Branches the working tree will know as origin/<name>.
    const branches = [...new Set([defaultBranch, ...(pullRequest ? [pullRequest.baseRef] : [])])];

    // Inside the run's own directory when given (removed with it, and swept after a crash).
    const { parent, dir } = spec.at !== undefined ? await made(spec.at) : await underTemporary(spec.into ?? tmpdir(), repository.repo);
    try {
      await mkdir(dirname(cache), { recursive: true });
      // Other processes on the machine (workers sharing the data directory) may use the same cache.
      const state = await withFileLock(`${cache}.lock`, async () => {
        const run = (args: string[]) => git(args, { cwd: cache });
        await prepareCache(cache, spec.url, defaultBranch);
        // Every ref the run needs in one fetch; the cache tells the server what it has, so only
        // what is new comes over the wire.
        const wanted: Array<{ remote: string; local: string; missing: string }> = [
          ...branches.map((branch) => ({ remote: `refs/heads/${branch}`, local: `refs/remotes/origin/${branch}`, missing: `${name} has no branch ${branch}` })),
          ...(pullRequest ? [{ remote: `refs/pull/${pullRequest.number}/head`, local: `refs/routines/pull/${pullRequest.number}`, missing: `pull request #${pullRequest.number} moved on: its head is gone, the run was for ${pullRequest.headSha}` }] : []),
          ...(tag !== undefined ? [{ remote: `refs/tags/${tag}`, local: `refs/tags/${tag}`, missing: `${name} has no tag ${tag}` }] : []),
          // A branch or a tag, as the server resolves the name.
          ...(commitRef !== undefined ? [{ remote: commitRef, local: `refs/routines/at/${commitRef}`, missing: `${name} has no branch or tag ${commitRef}` }] : []),
        ];
        try {
          await git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "origin", ...wanted.map(({ remote, local }) => `+${remote}:${local}`)], {
            cwd: cache,
            auth: { url: spec.url, token },
          });
        } catch (error) {
          const missing = error instanceof GitCommandError ? /couldn't find remote ref (.+)$/m.exec(error.stderr)?.[1]?.trim() : undefined;
          const known = wanted.find(({ remote }) => remote === missing);
          if (known) throw new WorkspaceError(known.missing);
          throw new WorkspaceError(`fetching ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        const resolved = await objects(cache, wanted.flatMap(({ local }) => [local, `${local}^{}`]));
        const at = (ref: string) => resolved.get(ref)!;
        const shas = new Map(branches.map((branch) => [branch, at(`refs/remotes/origin/${branch}^{}`).oid]));
        if (pullRequest) {
          const fetched = at(`refs/routines/pull/${pullRequest.number}`).oid;
          if (fetched !== pullRequest.headSha) throw new WorkspaceError(`pull request #${pullRequest.number} moved on: its head is ${fetched}, the run was for ${pullRequest.headSha}`);
        }
        let tagged: string | undefined;
        let head = pullRequest?.headSha ?? shas.get(defaultBranch)!;
        if (tag !== undefined) {
          tagged = at(`refs/tags/${tag}`).oid;
          const peeled = at(`refs/tags/${tag}^{}`);
          if (peeled.type !== "commit") throw new WorkspaceError(`the tag points to a ${peeled.type}, not a commit`);
          head = peeled.oid;
        }
        if (commit) {
          const tip = commitRef === undefined ? { oid: shas.get(defaultBranch)!, type: "commit" } : at(`refs/routines/at/${commitRef}^{}`);
          if (tip.type !== "commit") throw new WorkspaceError(`${commitRef} points to a ${tip.type}, not a commit`);
          // Earlier runs may have left other commits in the cache (pull requests' heads, forks'
          // among them): the commit must be in the named ref's history, not merely present.
          const onIt = tip.oid === commit.sha || (await isAncestor(cache, commit.sha, tip.oid));
          if (!onIt) {
            throw new WorkspaceError(`commit ${commit.sha} is not on ${commitRef ?? `the default branch ${defaultBranch}`} of ${name} (its tip is ${tip.oid}): only the repository's own history is checked out`);
          }
          head = commit.sha;
        }
        // The cache's files move to the run's commit (only the files that differ are written),
        // and the run gets a copy of them.
        await run(["checkout", "--quiet", "--force", "--detach", head]);
        await run(["clean", "--quiet", "-ffdx"]);
        const sparing = await sameFileSystem(cache, dirname(dir));
        const spared = sparing && (await takeSpareInto(cache, dir, head));
        if (!spared) await copy(cache, dir);
        return { shas, tagged, head, spared, sparing };
      });
      if (state.sparing) this.#makeSpare(cache);
      const detached = pullRequest !== undefined || commit !== undefined || tag !== undefined;
      await makeOwn(dir, { url: spec.url, defaultBranch, ...state, branch: detached ? undefined : defaultBranch, tag, copied: !state.spared });
      return { dir, repository, head: state.head, remove: () => rm(parent, { recursive: true, force: true }) };
    } catch (error) {
      await rm(parent, { recursive: true, force: true });
      throw error;
    }
  }
}

/**
 * A spare is a copy of a repository's cache made after a run's checkout, in the background, for
 * the next run: that run takes it over by renaming it (no files written), after bringing it to
 * its commit, where only the files that differ are written. Copying is what a checkout costs most;
 * this takes it off the path of the run that waits. The spare is the server's until it is taken,
 * and the run's own after: runs never share files. Renaming needs one file system: a spare is made
 * only where the runs' working trees go on the cache's file system.
 */
const spareOf = (cache: string) => `${cache}.spare`;

/** Used under the cache's lock: moves the spare to `dir` (on the cache's file system) at `head` with the cache's objects; false when there is none to take. */
async function takeSpareInto(cache: string, dir: string, head: string): Promise<boolean> {
  const spare = spareOf(cache);
  if (!(await exists(join(spare, ".git", "HEAD")))) return false;
  try {
    // The objects fetched since the spare was made; pack files are never changed, only added.
    await addMissing(join(cache, ".git", "objects"), join(spare, ".git", "objects"));
    await git(["checkout", "--quiet", "--force", "--detach", head], { cwd: spare });
    await git(["clean", "--quiet", "-ffdx"], { cwd: spare });
    await rename(spare, dir);
    return true;
  } catch {
    // A spare that cannot be brought up to date is made again; this run copies the cache.
    await rm(spare, { recursive: true, force: true });
    return false;
  }
}

/** Copies the files under `from` that `to` lacks (by path). */
async function addMissing(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const source = join(entry.parentPath, entry.name);
    const target = join(to, relative(from, source));
    if (await exists(target)) continue;
    await mkdir(dirname(target), { recursive: true });
    await copyFile(source, target);
  }
}

const exists = (path: string) => access(path).then(() => true, () => false);

async function sameFileSystem(a: string, b: string): Promise<boolean> {
  const [one, two] = await Promise.all([stat(a), stat(b)]);
  return one.dev === two.dev;
}

/** The cache's repository, made the first time: a clone of nothing yet, with the URL (without credentials) as origin. */
async function prepareCache(cache: string, url: string, defaultBranch: string): Promise<void> {
  const set = (key: string, value: string) => git(["config", key, value], { cwd: cache });
  if (!(await exists(join(cache, ".git", "HEAD")))) {
    // Earlier versions kept a bare cache beside it, of isomorphic-git's making: no longer read.
    await rm(cache.replace(/\.tree$/, ".git"), { recursive: true, force: true });
    await git(["init", "--quiet", `--initial-branch=${defaultBranch}`, cache], { cwd: dirname(cache) });
    // Housekeeping runs before the fetch returns, while the cache is locked, not behind its back.
    await set("gc.autoDetach", "false");
    await set("maintenance.autoDetach", "false");
  }
  // The repository may have moved (renamed, transferred): the URL is the one GitHub gives now.
  await set("remote.origin.url", url);
}

/** Each name's object and type (`ref^{}` is the commit or tree a tag points to), in one call. */
async function objects(cache: string, names: string[]): Promise<Map<string, { oid: string; type: string }>> {
  const lines = (await git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], { cwd: cache, input: names.map((n) => `${n}\n`).join("") })).split("\n");
  const found = new Map<string, { oid: string; type: string }>();
  names.forEach((name, i) => {
    const [oid = "", type = ""] = (lines[i] ?? "").split(" ");
    if (SHA.test(oid)) found.set(name, { oid, type });
  });
  return found;
}

/** Whether `ancestor` is in the history of `oid`; a commit the cache does not have is in nobody's history. */
async function isAncestor(cache: string, ancestor: string, oid: string): Promise<boolean> {
  try {
    return await gitAnswers(["merge-base", "--is-ancestor", ancestor, oid], { cwd: cache });
  } catch (error) {
    if (error instanceof GitCommandError && /not a valid|no such|bad object/i.test(error.stderr)) return false;
    throw error;
  }
}

/** Copies the cache, its repository and files, into `dir` (which exists and is empty), keeping modes and times. */
async function copy(cache: string, dir: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    execFile("cp", ["-a", "--", `${cache}/.`, `${dir}/`], (error, _stdout, stderr) => (error ? reject(new WorkspaceError(`copying the repository's cache failed: ${stderr.trim() || error.message}`)) : resolve())),
  );
}

/**
 * Makes the copied repository the run's own, as a clone has it: its own config (origin without
 * credentials), only the refs the run needs (origin/<branch>, origin/HEAD, the release's tag, the
 * default branch checked out or a detached HEAD), no reflogs or fetch state of the cache; and, for
 * a copy, the index's stat data made the copy's, so `git status` does not rehash every file.
 */
async function makeOwn(
  dir: string,
  state: { url: string; defaultBranch: string; shas: Map<string, string>; tagged: string | undefined; head: string; branch: string | undefined; tag: string | undefined; copied: boolean },
): Promise<void> {
  const gitdir = join(dir, ".git");
  await Promise.all(["refs", "logs", "packed-refs", "FETCH_HEAD", "ORIG_HEAD", "shallow", "config"].map((entry) => rm(join(gitdir, entry), { recursive: true, force: true })));
  const ref = async (name: string, value: string) => {
    await mkdir(dirname(join(gitdir, name)), { recursive: true });
    await writeFile(join(gitdir, name), `${value}\n`);
  };
  await mkdir(join(gitdir, "refs", "heads"), { recursive: true });
  await mkdir(join(gitdir, "refs", "tags"), { recursive: true });
  for (const [branch, sha] of state.shas) await ref(`refs/remotes/origin/${branch}`, sha);
  // As a clone has it, so `git diff origin/HEAD` works in the agent's shell.
  await ref("refs/remotes/origin/HEAD", `ref: refs/remotes/origin/${state.defaultBranch}`);
  if (state.tag !== undefined && state.tagged) await ref(`refs/tags/${state.tag}`, state.tagged);
  if (state.branch !== undefined) {
    await ref(`refs/heads/${state.branch}`, state.head);
    await ref("HEAD", `ref: refs/heads/${state.branch}`);
  } else {
    await ref("HEAD", state.head);
  }
  const quoted = (text: string) => `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  await writeFile(
    join(gitdir, "config"),
    [
      "[core]",
      "\trepositoryformatversion = 0",
      "\tfilemode = true",
      "\tbare = false",
      "\tlogallrefupdates = true",
      '[remote "origin"]',
      `\turl = ${quoted(state.url)}`,
      "\tfetch = +refs/heads/*:refs/remotes/origin/*",
      ...(state.branch !== undefined ? [`[branch ${quoted(state.branch)}]`, "\tremote = origin", `\tmerge = ${quoted(`refs/heads/${state.branch}`)}`] : []),
      "",
    ].join("\n"),
  );
  // A spare's files were checked out where they are (the index knows them); copied ones were not.
  if (state.copied && !(await restampIndex(dir))) await git(["update-index", "-q", "--refresh"], { cwd: dir }).catch(() => undefined);
}

/** A new directory at `path` (never one that exists, nor through a link), as a real path. */
async function made(path: string): Promise<{ parent: string; dir: string }> {
  await mkdir(path);
  const dir = await realpath(path);
  return { parent: dir, dir };
}

async function underTemporary(into: string, name: string): Promise<{ parent: string; dir: string }> {
  const parent = await realpath(await mkdtemp(join(into, "routines-work-")));
  await mkdir(join(parent, name));
  return { parent, dir: join(parent, name) };
}

const SHA = /^[0-9a-f]{40}$/;
