import { spawn } from "node:child_process";
import { mkdir, open, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { view } from "../../../src/session/tools/view.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("view", () => {
  it("shows files and directories through links that stay in the tree", async () => {
    await symlink("src", join(tree.root, "code"));
    expect((await tree.run(view, { path: "code/app.ts", end_line: 1 })).output).toBe("1\texport function add(a: number, b: number) {\n[lines 2-4 not shown]");
    expect((await tree.run(view, { path: "code" })).output).toBe("src/\napp.ts");
  });

  it("shows nothing through links out of the tree", async () => {
    for (const [target, name] of [[tree.outside, "out"], [join(tree.outside, "secret.txt"), "secret.txt"], ["/", "rootfs"], ["/proc/self", "me"]]) {
      await symlink(target!, join(tree.root, name!));
    }
    for (const path of ["out", "out/secret.txt", "secret.txt", "rootfs/etc/passwd", "rootfs", "me/environ"]) {
      expect(await tree.run(view, { path })).toEqual({ output: `view failed: ${path} leads outside the working tree`, isError: true });
    }
  });

  it("reads at most 10 MB of a file, however large it says it is", async () => {
    await writeFile(join(tree.root, "large.txt"), `${"x".repeat(99)}\n`.repeat(120_000));
    expect((await tree.run(view, { path: "large.txt", end_line: 1 })).output).toMatch(/^1\tx{99}\n\[lines 2-104857 and more not shown\]$/);
    expect((await tree.run(view, { path: "large.txt", start_line: 110_000 })).output).toBe(
      "view failed: large.txt is larger than 10 MB; view reads its first 104857 lines: use the shell for the rest",
    );
    const sparse = await open(join(tree.root, "huge.txt"), "w");
    await sparse.truncate(8 * 1024 * 1024 * 1024);
    await sparse.close();
    expect((await tree.run(view, { path: "huge.txt" })).output).toBe("view failed: huge.txt is a binary file");
  });

  it("lists a bounded part of a huge directory", async () => {
    await mkdir(join(tree.root, "many"));
    await new Promise<void>((resolve, reject) =>
      spawn("bash", ["-c", "touch f{1..8000}"], { cwd: join(tree.root, "many") }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`touch: ${code}`)))),
    );
    const result = await tree.run(view, { path: "many" });
    expect(result.output).toMatch(/\n\[more than 7500 entries; only these are shown\]$/);
  });

  it("refuses a named pipe at once rather than waiting on it", async () => {
    await new Promise<void>((resolve, reject) => spawn("mkfifo", [join(tree.root, "pipe")]).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo: ${code}`)))));
    expect((await tree.run(view, { path: "pipe" })).output).toBe("view failed: pipe is not a regular file");
  });
});
