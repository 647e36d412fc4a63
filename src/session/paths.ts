// Paths the model names, resolved inside the working tree or refused.
import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { ToolError } from "./define-tool.js";

const inside = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

/**
 * The absolute path of `path` (relative to the root, or absolute under it). `root` must be a real
 * path (no symlinks in it); a symlink inside the tree may not lead out of it.
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

/** The path as the model should see it: relative to the working tree. */
export const displayPath = (root: string, absolute: string) => relative(root, absolute) || ".";
