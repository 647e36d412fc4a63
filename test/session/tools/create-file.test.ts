import { readFile, readdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFile } from "../../../src/session/tools/create-file.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("create_file", () => {
  it("writes through links that stay in the tree, replacing what was there", async () => {
    await symlink("src/app.ts", join(tree.root, "app-link"));
    expect((await tree.run(createFile, { path: "app-link", content: "short\n" })).output).toBe("Wrote src/app.ts (2 lines).");
    expect(await readFile(join(tree.root, "src/app.ts"), "utf8")).toBe("short\n");
  });

  it("writes nothing outside through a link, a dangling one included", async () => {
    await symlink(tree.outside, join(tree.root, "out"));
    await symlink(join(tree.outside, "secret.txt"), join(tree.root, "secret-link"));
    await symlink(join(tree.outside, "planted.txt"), join(tree.root, "dangling"));
    await symlink("../outside/made", join(tree.root, "up"));
    for (const path of ["out/secret.txt", "out/new/dir/file.txt", "secret-link", "dangling", "up/file.txt"]) {
      expect((await tree.run(createFile, { path, content: "overwritten" })).output).toBe(`create_file failed: ${path} leads outside the working tree`);
    }
    expect(await readFile(join(tree.outside, "secret.txt"), "utf8")).toBe(`${tree.secret}\n`);
    expect((await readdir(tree.outside)).sort()).toEqual(["nested", "secret.txt"]);
  });
});
