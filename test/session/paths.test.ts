import { spawn } from "node:child_process";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ToolError } from "../../src/session/define-tool.js";
import { MissingPathError, openInside, readHead, type OpenMode } from "../../src/session/paths.js";
import { makeTree, type Tree } from "./tools/tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

/** The text of a file opened inside the tree, or the message of the refusal. */
async function read(path: string, mode: OpenMode = "file"): Promise<string> {
  try {
    const entry = await openInside(tree.root, path, mode);
    try {
      return entry.isDirectory ? `dir ${entry.shown}` : `${entry.shown}: ${(await readHead(entry.handle, 1_000)).bytes.toString("utf8")}`;
    } finally {
      await entry.close();
    }
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    return `refused: ${error.message}`;
  }
}

describe("openInside", () => {
  it("opens files and directories of the tree, the root included", async () => {
    expect(await read("src/app.ts")).toMatch(/^src\/app\.ts: export function add/);
    expect(await read(join(tree.root, "README.md"))).toBe("README.md: # App\n");
    expect(await read(".", "any")).toBe("dir .");
    expect(await read("src/./../src", "directory")).toBe("dir src");
  });

  it("follows links that stay in the tree, and says where they led", async () => {
    await symlink("src/app.ts", join(tree.root, "app-link"));
    await symlink(join(tree.root, "src"), join(tree.root, "src-link"));
    await symlink("../app-link", join(tree.root, "src", "back"));
    expect(await read("app-link")).toMatch(/^src\/app\.ts: export/);
    expect(await read("src-link/app.ts")).toMatch(/^src\/app\.ts: export/);
    expect(await read("src/back")).toMatch(/^src\/app\.ts: export/);
  });

  it.each([
    ["a directory outside", (t: Tree) => t.outside, "link/secret.txt"],
    ["a file outside", (t: Tree) => join(t.outside, "secret.txt"), "link"],
    ["a relative path up and out", () => "../outside", "link/secret.txt"],
    ["/", () => "/", "link/etc/passwd"],
    ["/proc", () => "/proc", "link/self/environ"],
    ["the server's root through /proc", () => "/proc/self/root", "link/etc/passwd"],
  ])("refuses a link to %s", async (_, target, path) => {
    await symlink(target(tree), join(tree.root, "link"));
    for (const mode of ["any", "file", "update"] as const) {
      expect(await read(path, mode)).toBe(`refused: ${path} leads outside the working tree`);
    }
  });

  it("refuses paths outside the tree, and link loops", async () => {
    expect(await read("../outside/secret.txt")).toBe("refused: ../outside/secret.txt is outside the working tree");
    expect(await read(join(tree.outside, "secret.txt"))).toMatch(/is outside the working tree$/);
    await symlink("b", join(tree.root, "a"));
    await symlink("a", join(tree.root, "b"));
    expect(await read("a")).toBe("refused: a has too many levels of symbolic links");
    await expect(openInside(tree.root, "missing.txt", "file")).rejects.toBeInstanceOf(MissingPathError);
  });

  it("creates missing directories inside the tree, and nothing outside through a link", async () => {
    const created = await openInside(tree.root, "docs/guide/intro.md", "create");
    await created.close();
    expect(created.shown).toBe("docs/guide/intro.md");
    await symlink(tree.outside, join(tree.root, "out"));
    await symlink(join(tree.outside, "planted.txt"), join(tree.root, "dangling"));
    for (const path of ["out/new/file.txt", "out/secret.txt", "dangling"]) {
      await expect(openInside(tree.root, path, "create")).rejects.toThrow(`${path} leads outside the working tree`);
    }
    await expect(readFile(join(tree.outside, "planted.txt"))).rejects.toThrow();
    await expect(readFile(join(tree.outside, "new", "file.txt"))).rejects.toThrow();
    expect(await readFile(join(tree.outside, "secret.txt"), "utf8")).toBe(`${tree.secret}\n`);
    // A dangling link inside the tree creates its target.
    await symlink("docs/target.md", join(tree.root, "inside-dangling"));
    const target = await openInside(tree.root, "inside-dangling", "create");
    await target.close();
    expect(target.shown).toBe("docs/target.md");
  });

  it("refuses what is not a regular file or directory without waiting on it", async () => {
    await new Promise<void>((resolve, reject) => spawn("mkfifo", [join(tree.root, "pipe")]).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo: ${code}`)))));
    expect(await read("pipe", "any")).toBe("refused: pipe is not a regular file");
    expect(await read("pipe", "file")).toBe("refused: pipe is not a regular file");
  });

  it.runIf(process.platform === "linux")("never reads outside while a process swaps a link in and out", async () => {
    await mkdir(join(tree.root, "inner"));
    await writeFile(join(tree.root, "inner", "secret.txt"), "inside\n");
    await symlink("inner", join(tree.root, "swap"));
    // Renames are atomic: the link is always there, pointing in or out by turns.
    // A process group of its own: the loop and its ln or mv of the moment end together, before the tree is removed.
    const swapper = spawn("bash", ["-c", `cd '${tree.root}' && while :; do ln -sfn '${tree.outside}' o && mv -T o swap; ln -sfn inner i && mv -T i swap; done`], { stdio: "ignore", detached: true });
    const ended = new Promise((resolve) => swapper.once("exit", resolve));
    try {
      const inside = "inner/secret.txt: inside\n";
      const refused = "refused: swap/secret.txt leads outside the working tree";
      const seen = new Set<string>();
      // At least 400 reads, and on until both sides were met: on a loaded machine the swapper
      // may not be scheduled for a while.
      for (let i = 0, end = Date.now() + 20_000; i < 400 || (!(seen.has(inside) && seen.has(refused)) && Date.now() < end); i++) seen.add(await read("swap/secret.txt"));
      expect([...seen].some((text) => text.includes(tree.secret))).toBe(false);
      // Both sides were met: the swap really raced the opens.
      expect(seen).toContain(inside);
      expect(seen).toContain(refused);
    } finally {
      process.kill(-swapper.pid!, "SIGKILL");
      await ended;
    }
  });
});

describe("readHead", () => {
  it("reads a whole small file, and only the start of a large one", async () => {
    await writeFile(join(tree.root, "big.txt"), "x".repeat(5_000));
    const entry = await openInside(tree.root, "big.txt", "file");
    try {
      expect(await readHead(entry.handle, 10_000)).toMatchObject({ whole: true });
      const head = await readHead(entry.handle, 1_000);
      expect(head.whole).toBe(false);
      expect(head.bytes.length).toBe(1_000);
    } finally {
      await entry.close();
    }
  });
});
