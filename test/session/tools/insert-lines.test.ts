import { readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { insertLines } from "../../../src/session/tools/insert-lines.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("insert_lines", () => {
  it("inserts through links that stay in the tree", async () => {
    await symlink("README.md", join(tree.root, "readme"));
    expect((await tree.run(insertLines, { path: "readme", after_line: 1, text: "More.\n" })).output).toBe("Inserted 1 lines into README.md after line 1.");
    expect(await readFile(join(tree.root, "README.md"), "utf8")).toBe("# App\nMore.\n");
  });

  it("changes nothing outside through a link", async () => {
    await symlink(join(tree.outside, "secret.txt"), join(tree.root, "secret-link"));
    expect((await tree.run(insertLines, { path: "secret-link", after_line: 0, text: "planted" })).output).toBe("insert_lines failed: secret-link leads outside the working tree");
    expect(await readFile(join(tree.outside, "secret.txt"), "utf8")).toBe(`${tree.secret}\n`);
  });

  it("leaves files over 10 MB to the shell", async () => {
    await writeFile(join(tree.root, "big.txt"), "x\n".repeat(6 * 1024 * 1024));
    expect((await tree.run(insertLines, { path: "big.txt", after_line: 0, text: "y" })).output).toBe("insert_lines failed: big.txt is larger than 10 MB; change it with the shell");
  });
});
