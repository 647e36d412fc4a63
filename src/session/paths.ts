// Paths the model names, opened inside the working tree or refused. The file tools run in the
// server, outside the sandbox, so a symbolic link that a command planted must never lead them out
// of the tree (to the server's key, `.env`, data directory, or the host). A path is opened one
// name at a time, each relative to the directory opened before it and without following links; a
// link met on the way is read, and walked in its place when its target is inside the tree.
//
// On Linux, "relative to the directory opened before it" is exact: names are opened through
// /proc/self/fd/<that directory>, so a link swapped in meanwhile by a process running alongside
// changes nothing. Elsewhere names are opened by their full path, checked one name at a time: a
// link swapped into a directory already checked, at that very moment, could still lead one open
// out.
import { closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, type Dirent, type Stats } from "node:fs";
import { lstat, mkdir, open, opendir, readlink, realpath, type FileHandle } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { ToolError } from "./define-tool.js";

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
const THROUGH_FD = process.platform === "linux" && existsSync("/proc/self/fd");
/** As the kernel's own limit on links in one lookup. */
const MAX_LINKS = 40;
/** Directories made for one path: a bound for a command that removes them as fast as they come. */
const MAX_MADE = 256;

const inside = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
const names = (path: string) => path.split(sep).filter((name) => name !== "" && name !== ".");

/** The path does not exist (and the tool was not asked to create it). */
export class MissingPathError extends ToolError {}

/**
 * A file or directory of the working tree, open. Its `path` is relative to the root with links
 * resolved ("" for the root itself); what is inside a directory is reached through `inside(name)`.
 */
export class TreeEntry {
  constructor(
    readonly root: string,
    readonly path: string,
    readonly handle: FileHandle,
    readonly stats: Stats,
  ) {}

  get isDirectory(): boolean {
    return this.stats.isDirectory();
  }

  /** The path as the model should see it. */
  get shown(): string {
    return this.path || ".";
  }

  /** A name for `name` in this directory that is looked up in it and nowhere else (see the top). */
  inside(name?: string): string {
    const self = THROUGH_FD ? `/proc/self/fd/${this.handle.fd}` : join(this.root, this.path);
    return name === undefined ? self : `${self}/${name}`;
  }

  /** Opens `name` in this directory, not following a link: undefined when it is a link or gone. */
  async child(name: string, directory: boolean): Promise<TreeEntry | undefined> {
    const step = await openStep(this, name, O_RDONLY | (directory ? O_DIRECTORY : 0)).catch(() => undefined);
    if (step && "entry" in step) return step.entry;
    return undefined;
  }

  /** At most `max` entries of this directory, each with its type (links are not followed). */
  async list(max: number): Promise<{ entries: Dirent[]; more: boolean }> {
    const entries: Dirent[] = [];
    const directory = await opendir(this.inside());
    try {
      for (let entry = await directory.read(); entry !== null; entry = await directory.read()) {
        if (entries.length >= max) return { entries, more: true };
        entries.push(entry);
      }
      return { entries, more: false };
    } finally {
      await directory.close().catch(() => undefined);
    }
  }

  /** The entry's type when the directory listing could not tell it (some file systems do not). */
  async typeOf(entry: Dirent): Promise<"file" | "directory" | "other"> {
    const stats = entry.isFile() || entry.isDirectory() || entry.isSymbolicLink() ? entry : await lstat(this.inside(entry.name)).catch(() => undefined);
    return stats?.isFile() ? "file" : stats?.isDirectory() ? "directory" : "other";
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}

/** What a path is opened for: to read it (file or directory), a file to read, a directory, a file to rewrite, a file to create or rewrite. */
export type OpenMode = "any" | "file" | "directory" | "update" | "create";
const WRITES: ReadonlySet<OpenMode> = new Set(["update", "create"]);

const FINAL_FLAGS: Record<OpenMode, number> = {
  any: O_RDONLY,
  file: O_RDONLY,
  directory: O_RDONLY | O_DIRECTORY,
  update: O_RDWR,
  create: O_WRONLY | O_CREAT,
};

type Step = { entry: TreeEntry } | { link: string } | { missing: true };

/** A directory on the way to the named path, open by descriptor only. */
interface Passage {
  readonly root: string;
  readonly path: string;
  readonly fd: number;
}
const passageName = (dir: Passage, name: string) => (THROUGH_FD ? `/proc/self/fd/${dir.fd}/${name}` : join(dir.root, dir.path, name));

/** Why a name could not be opened, as a step: gone, or a link (with its target) that O_NOFOLLOW refused. */
function refused(error: unknown, readTarget: () => string | undefined): Step {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return { missing: true };
  // A link refused by O_NOFOLLOW: ELOOP, or ENOTDIR when a directory was asked for.
  if (code === "ELOOP" || code === "ENOTDIR") {
    const target = readTarget();
    if (target !== undefined) return { link: target };
  }
  throw error;
}

// The directories on the way are opened synchronously: opening a directory by one name on a local
// file system takes microseconds and cannot block (O_DIRECTORY refuses a named pipe), while each
// asynchronous open costs a round trip through the thread pool, which made most of a file tool's
// time. What is opened at the end, and every read or write of it, stays asynchronous.
function passStep(dir: Passage, name: string): { passage: Passage } | Exclude<Step, { entry: TreeEntry }> {
  const where = passageName(dir, name);
  try {
    return { passage: { root: dir.root, path: join(dir.path, name), fd: openSync(where, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK) } };
  } catch (error) {
    return refused(error, () => {
      try {
        return readlinkSync(where);
      } catch {
        return undefined;
      }
    }) as Exclude<Step, { entry: TreeEntry }>;
  }
}

/** Opens one name in `dir` without following a link; a link is reported with its target. */
async function openStep(dir: Passage | TreeEntry, name: string, flags: number): Promise<Step> {
  const where = "fd" in dir ? passageName(dir, name) : dir.inside(name);
  let handle: FileHandle;
  try {
    // Non-blocking, so that a named pipe cannot hold the open (and a thread of the server) forever.
    handle = await open(where, flags | O_NOFOLLOW | O_NONBLOCK, 0o666);
  } catch (error) {
    let target: string | undefined;
    try {
      target = await readlink(where);
    } catch {
      target = undefined;
    }
    return refused(error, () => target);
  }
  try {
    return { entry: new TreeEntry(dir.root, name === "." ? dir.path : join(dir.path, name), handle, fstatSync(handle.fd)) };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

const openRoot = (root: string): Passage => ({ root, path: "", fd: openSync(root, O_RDONLY | O_DIRECTORY) });
const leave = (dir: Passage) => closeSync(dir.fd);

const explain = (path: string, error: unknown): ToolError => {
  if (error instanceof ToolError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EISDIR") return new ToolError(`${path} is a directory`);
  if (code === "ENOTDIR") return new ToolError(`${path} is not a directory`);
  if (code === "EACCES" || code === "EPERM") return new ToolError(`${path} cannot be opened: permission denied`);
  return new ToolError(`${path} cannot be opened: ${(error as Error).message}`);
};

/**
 * Opens `path` (relative to the root, or absolute under it) for `mode`, following links only while
 * they stay in the tree. `root` must be a real path (no links in it). "create" makes missing
 * directories on the way. The caller closes the entry.
 */
export async function openInside(root: string, path: string, mode: OpenMode): Promise<TreeEntry> {
  const absolute = isAbsolute(path) ? resolve(path) : resolve(root, path);
  if (path.includes("\0") || !inside(root, absolute)) throw new ToolError(`${path} is outside the working tree`);
  let todo = names(relative(root, absolute));
  let links = 0;
  let made = 0;
  let dir = openRoot(root);
  try {
    // The root itself was named: opened as any other last step.
    if (todo.length === 0) return wanted(path, mode, await openAt(dir, ".", FINAL_FLAGS[mode]));
    for (let i = 0; ; ) {
      const name = todo[i]!;
      const last = i === todo.length - 1;
      // The file tools run in the server, outside the sandbox that keeps .git's config and hooks
      // read-only for commands: a repository's history and settings change through git, not here.
      if (WRITES.has(mode) && name.toLowerCase() === ".git") throw new ToolError(`${path} is inside a .git directory: the tools do not write there; use git commands in the shell`);
      const step = last ? await openStep(dir, name, FINAL_FLAGS[mode]) : passStep(dir, name);
      if ("link" in step) {
        // Walk the target in the link's place, from the root again.
        if (++links > MAX_LINKS) throw new ToolError(`${path} has too many levels of symbolic links`);
        const target = isAbsolute(step.link) ? resolve(step.link) : resolve(root, dir.path, step.link);
        if (!inside(root, target)) throw new ToolError(`${path} leads outside the working tree`);
        todo = [...names(relative(root, target)), ...todo.slice(i + 1)];
        const restart = openRoot(root);
        leave(dir);
        dir = restart;
        i = 0;
        if (todo.length === 0) return wanted(path, mode, await openAt(dir, ".", FINAL_FLAGS[mode]));
        continue;
      }
      if ("missing" in step) {
        if (mode !== "create" || last) throw new MissingPathError(`${path} does not exist`);
        if (++made > MAX_MADE) throw new ToolError(`${path} kept changing while it was created`);
        await mkdir(passageName(dir, name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== "EEXIST") throw error;
        });
        continue;
      }
      if ("entry" in step) return wanted(path, mode, step.entry);
      leave(dir);
      dir = step.passage;
      i += 1;
    }
  } catch (error) {
    throw explain(path, error);
  } finally {
    leave(dir);
  }
}

/** Opens `name` (or "." for the directory itself) as the last step; anything but an open entry is an error. */
async function openAt(dir: Passage, name: string, flags: number): Promise<TreeEntry> {
  const step = await openStep(dir, name, flags);
  if ("entry" in step) return step.entry;
  throw new ToolError(`${dir.path || "."} cannot be opened`);
}

/** The entry when it is what `mode` asks for; otherwise it is closed and refused. */
async function wanted(path: string, mode: OpenMode, entry: TreeEntry): Promise<TreeEntry> {
  const ok = mode === "any" ? entry.isDirectory || entry.stats.isFile() : mode === "directory" ? entry.isDirectory : entry.stats.isFile();
  if (ok) return entry;
  await entry.close();
  throw new ToolError(mode === "directory" ? `${path} is not a directory` : entry.isDirectory ? `${path} is a directory` : `${path} is not a regular file`);
}

/**
 * Reads at most `max` bytes from the start of a regular file; `whole` tells whether that was all
 * of it. `size` is the file's length when the caller has just read it (saves a stat).
 */
export async function readHead(handle: FileHandle, max: number, size?: number): Promise<{ bytes: Buffer; whole: boolean }> {
  // Sized by the file's length, and grown if the file grows meanwhile; one byte more tells the end.
  let buffer = Buffer.allocUnsafe(Math.min(max, size ?? (await handle.stat()).size) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > max) break;
      const bigger = Buffer.allocUnsafe(Math.min(max + 1, buffer.length * 2));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const asked = buffer.length - length;
    const { bytesRead } = await handle.read(buffer, length, asked, length);
    length += bytesRead;
    // A regular file reads short only at its end: no second read to find it.
    if (bytesRead < asked) break;
  }
  return length > max ? { bytes: buffer.subarray(0, max), whole: false } : { bytes: buffer.subarray(0, length), whole: true };
}

/** Replaces a file's whole content through its open handle. */
export async function rewrite(handle: FileHandle, content: string): Promise<void> {
  const bytes = Buffer.from(content, "utf8");
  await handle.truncate(0);
  for (let written = 0; written < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, written);
    written += bytesWritten;
  }
}

/**
 * The absolute path of `path` (relative to the root, or absolute under it), checked: a link in the
 * tree may not lead out of it. A check, then a use by path: for reads of the server's own (the
 * prompt file); the tools open through `openInside`.
 */
export async function resolveInside(root: string, path: string): Promise<string> {
  const absolute = isAbsolute(path) ? resolve(path) : resolve(root, path);
  if (path.includes("\0") || !inside(root, absolute)) throw new ToolError(`${path} is outside the working tree`);
  // The deepest part that exists decides where a symlink really points.
  for (let existing = absolute; ; existing = dirname(existing)) {
    const real = await realpath(existing).catch(() => undefined);
    if (real !== undefined) {
      if (!inside(root, real)) throw new ToolError(`${path} leads outside the working tree`);
      return absolute;
    }
    if (dirname(existing) === existing) return absolute;
  }
}
