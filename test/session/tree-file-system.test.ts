import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutsideTreeError, treeFileSystem } from "../../src/session/tree-file-system.js";

let base: string;
let root: string;
let outside: string;
beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), "routines-tree-fs-")));
  root = join(base, "tree");
  outside = join(base, "outside");
  await mkdir(join(root, "src"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, "src", "a.txt"), "a\n");
  await writeFile(join(outside, "secret.txt"), "secret\n");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("treeFileSystem", () => {
  it("reads and writes inside the tree, links inside it included, and nothing through a link out of it", async () => {
    const fs = treeFileSystem(root).promises;
    await symlink(join(root, "src"), join(root, "inner"));
    await symlink(outside, join(root, "out"));
    await symlink(join(outside, "secret.txt"), join(root, "secret-link"));
    expect(String(await fs.readFile(join(root, "inner", "a.txt"), "utf8"))).toBe("a\n");
    await fs.writeFile(join(root, "inner", "b.txt"), "b\n");
    expect(await readFile(join(root, "src", "b.txt"), "utf8")).toBe("b\n");
    await expect(fs.readFile(join(root, "secret-link"), "utf8")).rejects.toBeInstanceOf(OutsideTreeError);
    await expect(fs.readFile(join(root, "out", "secret.txt"), "utf8")).rejects.toBeInstanceOf(OutsideTreeError);
    await expect(fs.writeFile(join(root, "out", "planted.txt"), "x")).rejects.toBeInstanceOf(OutsideTreeError);
    await expect(fs.mkdir(join(root, "out", "made"))).rejects.toBeInstanceOf(OutsideTreeError);
    await expect(fs.readdir(join(root, "out"))).rejects.toBeInstanceOf(OutsideTreeError);
    await expect(fs.readFile(join(base, "outside", "secret.txt"))).rejects.toBeInstanceOf(OutsideTreeError);
    // A link itself is looked at, and removed, where it is: the tree's own links may point anywhere.
    expect((await fs.lstat(join(root, "secret-link")) as { isSymbolicLink(): boolean }).isSymbolicLink()).toBe(true);
    expect(await fs.readlink!(join(root, "secret-link"))).toBe(join(outside, "secret.txt"));
    await fs.unlink(join(root, "secret-link"));
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("secret\n");
    // The tree itself.
    expect((await fs.lstat(root) as { isDirectory(): boolean }).isDirectory()).toBe(true);
  });
});
