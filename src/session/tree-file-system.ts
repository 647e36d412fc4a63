// The file system as isomorphic-git sees a run's working tree when the server fetches, merges,
// checks out and pushes there: every path it reads or writes must resolve, links and all, inside
// the tree. A run's commands can leave links anywhere in the tree and its .git: a loose object or
// a pack that is a link to another repository's on the server would be read and pushed to GitHub;
// a directory swapped for a link to the server's own directory would have a checkout write there.
// Paths are checked as they are used, by their real path (the final name of an lstat, readlink,
// unlink or symlink is the link itself, and only its directory is checked). A check, then a use:
// sound while nothing else in the tree moves meanwhile, as when the run's commands have ended
// (the sandbox ends every process of a command with it); the server's own commit does not rely on
// it (native-commit.ts opens without following links).
import * as fs from "node:fs";
import { realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import type { PromiseFsClient } from "isomorphic-git";

/** A path that leads out of the tree: isomorphic-git reads it as a missing file, and a write fails. */
export class OutsideTreeError extends Error {
  override name = "OutsideTreeError";
  readonly code = "EACCES";
}

export function treeFileSystem(root: string): PromiseFsClient {
  const realRoot = realpath(root);
  const inside = (real: string, base: string) => real === base || real.startsWith(base.endsWith(sep) ? base : `${base}${sep}`);
  /** Rejects unless `path` (its deepest part that exists, with every link followed) is inside the tree. */
  const check = async (path: fs.PathLike, { parentOnly }: { parentOnly: boolean }) => {
    const absolute = resolve(String(path));
    const base = await realRoot;
    // The tree itself is looked at as a whole: its parent is not the tree's.
    const whole = !parentOnly || absolute === resolve(root);
    for (let existing = whole ? absolute : dirname(absolute); ; existing = dirname(existing)) {
      const real = await realpath(existing).catch(() => undefined);
      if (real !== undefined) {
        if (!inside(real, base)) throw new OutsideTreeError(`${absolute} leads outside the working tree`);
        return;
      }
      if (dirname(existing) === existing) throw new OutsideTreeError(`${absolute} is outside the working tree`);
    }
  };
  const through = <A extends unknown[], R>(parentOnly: boolean, method: (path: fs.PathLike, ...rest: A) => Promise<R>) =>
    async (path: fs.PathLike, ...rest: A): Promise<R> => {
      await check(path, { parentOnly });
      return method(path, ...rest);
    };
  const p = fs.promises;
  return {
    promises: {
      readFile: through(false, p.readFile as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      writeFile: through(false, p.writeFile as (path: fs.PathLike, ...rest: unknown[]) => Promise<void>),
      readdir: through(false, p.readdir as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      mkdir: through(false, p.mkdir as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      rmdir: through(false, p.rmdir as (path: fs.PathLike, ...rest: unknown[]) => Promise<void>),
      stat: through(false, p.stat as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      chmod: through(false, p.chmod as (path: fs.PathLike, ...rest: unknown[]) => Promise<void>),
      lstat: through(true, p.lstat as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      readlink: through(true, p.readlink as (path: fs.PathLike, ...rest: unknown[]) => Promise<unknown>),
      unlink: through(true, p.unlink as (path: fs.PathLike) => Promise<void>),
      // The link's target is only text written into it; where the link is made is what counts.
      symlink: async (target: fs.PathLike, path: fs.PathLike) => {
        await check(path, { parentOnly: true });
        return p.symlink(target, path);
      },
    },
  };
}
