import { readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { editFile } from "../../../src/session/tools/edit-file.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("edit_file", () => {
  it("edits through links that stay in the tree", async () => {
    await symlink("src", join(tree.root, "code"));
    expect((await tree.run(editFile, { path: "code/app.ts", old_text: "a + b", new_text: "b + a" })).output).toBe("Edited src/app.ts at line 2.");
    expect(await readFile(join(tree.root, "src/app.ts"), "utf8")).toContain("return b + a;");
  });

  it("neither reads nor changes a file outside through a link", async () => {
    await symlink(join(tree.outside, "secret.txt"), join(tree.root, "secret-link"));
    await symlink(tree.outside, join(tree.root, "out"));
    for (const path of ["secret-link", "out/nested/deep.txt"]) {
      expect((await tree.run(editFile, { path, old_text: "secret", new_text: "changed" })).output).toBe(`edit_file failed: ${path} leads outside the working tree`);
    }
    expect(await readFile(join(tree.outside, "secret.txt"), "utf8")).toBe(`${tree.secret}\n`);
  });

  it("leaves files over 10 MB to the shell", async () => {
    await writeFile(join(tree.root, "big.txt"), "x".repeat(11 * 1024 * 1024));
    expect((await tree.run(editFile, { path: "big.txt", old_text: "x", new_text: "y" })).output).toBe("edit_file failed: big.txt is larger than 10 MB; change it with the shell");
    expect((await tree.run(editFile, { path: "missing.txt", old_text: "x", new_text: "y" })).output).toBe(
      "edit_file failed: missing.txt does not exist; use create_file for new files",
    );
  });
});
