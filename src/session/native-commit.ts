// Committing the working tree with native git, in a git directory of the server's own. By the time
// a run publishes, its commands have had the working tree's .git in their hands: native git run
// there would obey what they wrote (hooks, core.fsmonitor, filter drivers, a signing program,
// alternates that reach other repositories' objects, links to files outside the tree). So git
// never runs there. It runs with GIT_DIR set to a fresh directory under the server's temporary
// directory (hidden from commands by the sandbox), whose config the server writes, with no system
// or global config read, and the working tree as GIT_WORK_TREE:
// - objects: the regular files of .git/objects (loose objects and packs) hard-linked in, each
//   checked on the server's side after linking, so a link planted there is never followed, and
//   nothing else of .git/objects (no info/alternates);
// - the index, HEAD's commit and info/exclude: read from .git as data, without following a link
//   out of the tree;
// and what comes back into .git is the objects git made, the branch's ref and the index,
// each written as a new file renamed into place through directories opened without following
// links (paths.ts), so a link planted in .git never leads a write elsewhere.
//
// Native git, not isomorphic-git: isomorphic-git's statusMatrix reads and hashes the whole tree in
// the server's thread (2–4 s on a tree of thousands of files); git's index knows what changed.
import { constants, type Stats } from "node:fs";
import { link, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolError } from "./define-tool.js";
import { git, GitCommandError } from "./native-git.js";
import { MissingPathError, openInside, readHead, type TreeEntry } from "./paths.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
const SHA = /^[0-9a-f]{40}$/;
/** An index larger than this is not copied: git builds one from HEAD instead. */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;
const LINK_BATCH = 64;

/** The server's own git directory's config: nothing in it runs a program. */
const CONFIG = [
  "[core]",
  "\trepositoryformatversion = 0",
  "\tbare = false",
  "\tfilemode = true",
  "\tsymlinks = true",
  "\tlogallrefupdates = false",
  "\tfsmonitor = false",
  "\tuntrackedCache = false",
  "\thooksPath = /dev/null",
  "[gc]",
  "\tauto = 0",
  "[commit]",
  "\tgpgSign = false",
  "",
].join("\n");

export interface CommitIdentity {
  name: string;
  email: string;
}

/**
 * Commits every change in the working tree `dir` (ignored files aside) on top of HEAD, as
 * `author`, with `message`; undefined when nothing changed. HEAD (its branch, or itself when
 * detached) and the index move to the new commit.
 */
export async function commitWorkingTree(dir: string, author: CommitIdentity, message: string): Promise<string | undefined> {
  const top = await openInside(dir, "", "directory");
  const gitEntry = await top.child(".git", true);
  await top.close();
  if (!gitEntry) throw new ToolError("the working tree's .git is not a directory: it cannot be committed");
  const own = await mkdtemp(join(tmpdir(), "routines-commit-"));
  try {
    const head = await readHeadOf(dir);
    const linked = await prepareGitDir(own, gitEntry, head.commit);
    const env = { gitDir: own, workTree: dir };
    const run = (args: string[], input?: string, identity?: CommitIdentity) => git(args, { cwd: dir, isolated: { ...env, ...(identity ? { identity } : {}) }, ...(input === undefined ? {} : { input }) });
    try {
      await run(["add", "--all"]);
    } catch (error) {
      // An index this git cannot use as it is (split, or of a newer format): one from HEAD instead.
      if (!(error instanceof GitCommandError)) throw error;
      await rm(join(own, "index"), { force: true });
      await run(["read-tree", head.commit]);
      await run(["add", "--all"]);
    }
    try {
      // Porcelain, for one process less: the server's config gives it no hook, template or signing.
      await run(["commit", "--quiet", "--no-verify", "--cleanup=verbatim", "--allow-empty-message", "-F", "-"], message, author);
    } catch (error) {
      // git's own "nothing to commit" (exit 1 also means some failures: told apart by git's words).
      if (error instanceof GitCommandError && error.exitCode === 1 && /^(nothing (added )?to commit|no changes added to commit)/m.test(error.stdout)) return undefined;
      throw error;
    }
    const commit = (await readFile(join(own, "HEAD"), "utf8")).trim();
    if (!SHA.test(commit)) throw new ToolError(`git made no commit: HEAD is ${JSON.stringify(commit.slice(0, 80))}`);
    await writeBack(gitEntry, own, { linked, head, commit });
    return commit;
  } finally {
    await gitEntry.close();
    await rm(own, { recursive: true, force: true });
  }
}

interface Head {
  /** The commit HEAD is at. */
  commit: string;
  /** The branch's ref HEAD names (refs/heads/…), or undefined when HEAD is detached. */
  ref: string | undefined;
}

/** HEAD of the working tree's repository, read as data. */
async function readHeadOf(dir: string): Promise<Head> {
  const text = (await readSmall(dir, ".git/HEAD")) ?? "";
  const symbolic = /^ref: (refs\/heads\/\S+)\s*$/.exec(text);
  if (!symbolic) {
    const commit = text.trim();
    if (!SHA.test(commit)) throw new ToolError("the working tree's HEAD is neither a branch nor a commit: it cannot be committed");
    return { commit, ref: undefined };
  }
  const ref = symbolic[1]!;
  if (ref.split("/").some((part) => part === ".." || part === "." || part === "")) throw new ToolError(`the working tree's HEAD names ${ref}, which is not a branch`);
  const loose = (await readSmall(dir, `.git/${ref}`))?.trim();
  const packed = loose === undefined ? packedRef((await readSmall(dir, ".git/packed-refs")) ?? "", ref) : undefined;
  const commit = loose ?? packed;
  if (!commit || !SHA.test(commit)) throw new ToolError(`the working tree's branch ${ref.slice("refs/heads/".length)} has no commit: it cannot be committed on`);
  return { commit, ref };
}

const packedRef = (text: string, ref: string) =>
  text
    .split("\n")
    .map((line) => line.split(" "))
    .find(([, name]) => name === ref)?.[0];

/** A file of the working tree, at most 1 MB, or undefined when it is not there. */
async function readSmall(dir: string, path: string): Promise<string | undefined> {
  const file = await openInside(dir, path, "file").catch((error: unknown) => {
    if (error instanceof MissingPathError) return undefined;
    throw error;
  });
  if (!file) return undefined;
  try {
    return (await readHead(file.handle, 1024 * 1024, file.stats.size)).bytes.toString("utf8");
  } finally {
    await file.close();
  }
}

/**
 * The server's git directory: its config, HEAD at the commit, the working tree's objects (regular
 * files only), index and exclude patterns. Returns the loose objects linked in ("xx/yyyy…"), so
 * that those git writes afterwards are told from them.
 */
async function prepareGitDir(own: string, gitEntry: TreeEntry, commit: string): Promise<Set<string>> {
  await Promise.all([mkdir(join(own, "objects", "pack"), { recursive: true }), mkdir(join(own, "refs", "heads"), { recursive: true }), mkdir(join(own, "info"))]);
  await writeFile(join(own, "config"), CONFIG);
  await writeFile(join(own, "HEAD"), `${commit}\n`);
  const linked = new Set<string>();
  const objects = await gitEntry.child("objects", true);
  if (objects) {
    try {
      for (const name of await readdir(objects.inside())) {
        if (!/^[0-9a-f]{2}$/.test(name) && name !== "pack") continue;
        const sub = await objects.child(name, true);
        if (!sub) continue;
        try {
          if (name !== "pack") await mkdir(join(own, "objects", name));
          const files = (await readdir(sub.inside())).filter((file) => (name === "pack" ? /^pack-[0-9a-f]+\.(pack|idx|rev)$/.test(file) : /^[0-9a-f]{38}$/.test(file)));
          // A batch at a time: one at a time, thousands of loose objects took half a second.
          for (let start = 0; start < files.length; start += LINK_BATCH) {
            await Promise.all(files.slice(start, start + LINK_BATCH).map((file) => linkRegular(sub.inside(file), join(own, "objects", name, file))));
          }
          if (name !== "pack") for (const file of files) linked.add(`${name}/${file}`);
        } finally {
          await sub.close();
        }
      }
    } finally {
      await objects.close();
    }
  }
  await copyRegular(gitEntry, "index", join(own, "index"), MAX_INDEX_BYTES);
  const info = await gitEntry.child("info", true);
  if (info) {
    await copyRegular(info, "exclude", join(own, "info", "exclude"), 1024 * 1024);
    await info.close();
  }
  return linked;
}

/**
 * Makes `to` the file at `from` (a name looked up without following a link in its last part):
 * hard-linked, or copied where it cannot be linked. A link (or anything but a regular file) never ends
 * up in the server's directory.
 */
async function linkRegular(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    // Across file systems, or where the kernel refuses links to files of another owner: a copy.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") await copyNoFollow(from, to, Number.POSITIVE_INFINITY).catch(() => undefined);
    return;
  }
  // Checked on the server's side: link(2) links a symbolic link itself, which git would follow.
  const linked: Stats | undefined = await lstat(to).catch(() => undefined);
  if (!linked?.isFile()) await unlink(to).catch(() => undefined);
}

/** Copies the regular file `name` of `dir` to `to`, unless it is missing, a link, or over `max` bytes. */
async function copyRegular(dir: TreeEntry, name: string, to: string, max: number): Promise<void> {
  await copyNoFollow(dir.inside(name), to, max).catch(() => undefined);
}

/** Copies the file at `from` to a new file `to`, when it is a regular file (not a link) of at most `max` bytes. */
async function copyNoFollow(from: string, to: string, max: number): Promise<void> {
  const source = await open(from, constants.O_RDONLY | O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = await source.stat();
    if (!stats.isFile() || stats.size > max) return;
    const target = await open(to, O_WRONLY | O_CREAT | O_EXCL, 0o644);
    try {
      await pipeFile(source, target);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function pipeFile(source: FileHandle, target: FileHandle): Promise<void> {
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (;;) {
    const { bytesRead } = await source.read(buffer, 0, buffer.length);
    if (bytesRead === 0) return;
    for (let written = 0; written < bytesRead; ) written += (await target.write(buffer, written, bytesRead - written)).bytesWritten;
  }
}

/**
 * Writes the objects git made (the loose ones it did not find among those linked in: the commit,
 * its new trees and files), then the ref HEAD names (or HEAD itself), then the index, into the
 * working tree's .git.
 */
async function writeBack(gitEntry: TreeEntry, own: string, { linked, head, commit }: { linked: Set<string>; head: Head; commit: string }): Promise<void> {
  for (const name of await readdir(join(own, "objects"))) {
    if (!/^[0-9a-f]{2}$/.test(name)) continue;
    const made = (await readdir(join(own, "objects", name))).filter((file) => !linked.has(`${name}/${file}`));
    if (made.length === 0) continue;
    const dir = await childPath(gitEntry, ["objects", name]);
    try {
      for (const file of made) await place(dir, file, join(own, "objects", name, file));
    } finally {
      await dir.close();
    }
  }
  if (head.ref === undefined) {
    await placeText(gitEntry, "HEAD", `${commit}\n`);
  } else {
    const parts = head.ref.split("/");
    const refDir = await childPath(gitEntry, parts.slice(0, -1));
    try {
      await placeText(refDir, parts.at(-1)!, `${commit}\n`);
    } finally {
      await refDir.close();
    }
  }
  await place(gitEntry, "index", join(own, "index"));
}

/** The directory at `names` below `dir`, each opened without following a link, made when missing. */
async function childPath(dir: TreeEntry, names: string[]): Promise<TreeEntry> {
  let current = dir;
  for (const name of names) {
    let next = await current.child(name, true);
    if (!next) {
      await mkdir(current.inside(name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
      next = await current.child(name, true);
    }
    if (current !== dir) await current.close();
    if (!next) throw new ToolError(`the working tree's .git has a link or a file where the directory ${name} belongs: the commit cannot be written`);
    current = next;
  }
  if (current === dir) throw new ToolError("no directory to write into");
  return current;
}

/** Puts a copy of the server's file `from` at `name` in `dir`: a new file, renamed over whatever is there (a link is replaced, not followed). */
async function place(dir: TreeEntry, name: string, from: string): Promise<void> {
  const source = await open(from, constants.O_RDONLY);
  try {
    await placeWith(dir, name, (target) => pipeFile(source, target));
  } finally {
    await source.close();
  }
}

const placeText = (dir: TreeEntry, name: string, text: string) => placeWith(dir, name, (target) => target.writeFile(text));

async function placeWith(dir: TreeEntry, name: string, write: (target: FileHandle) => Promise<void>): Promise<void> {
  const temporary = `${name}.routines-${process.pid}-${Date.now()}`;
  const target = await open(dir.inside(temporary), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    await write(target);
  } finally {
    await target.close();
  }
  await rename(dir.inside(temporary), dir.inside(name));
}
