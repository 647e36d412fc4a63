import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openInside } from "../../../src/session/paths.js";
import { SEARCH_LIMITS, SearchBudget, walkTree, type SearchLimits } from "../../../src/session/tools/walk-tree.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

/** Every file the walk visits, by path relative to the root, and the budget afterwards. */
async function walk(limits: Partial<SearchLimits> = {}, signal = new AbortController().signal, depth?: number) {
  const budget = new SearchBudget({ ...SEARCH_LIMITS, ...limits }, signal);
  const start = await openInside(tree.root, ".", "directory");
  const files: string[] = [];
  try {
    await walkTree(start, budget, depth ?? budget.limits.maxDepth, async (dir, names) => {
      files.push(...names.map((name) => join(dir.path, name)));
    });
  } finally {
    await start.close();
  }
  return { files, budget };
}

describe("walkTree", () => {
  it("visits the tree's files, skipping .git, node_modules and every link, wherever it points", async () => {
    await mkdir(join(tree.root, ".git"));
    await writeFile(join(tree.root, ".git", "config"), "x");
    await mkdir(join(tree.root, "node_modules", "dep"), { recursive: true });
    await writeFile(join(tree.root, "node_modules", "dep", "index.js"), "x");
    for (const [target, name] of [[tree.outside, "out"], [join(tree.outside, "secret.txt"), "file-out"], ["/", "rootfs"], ["/proc", "proc"], [".", "loop"], ["src", "src-again"], ["src/app.ts", "app-again"], ["missing", "dangling"]]) {
      await symlink(target!, join(tree.root, name!));
    }
    const { files, budget } = await walk();
    expect(files).toEqual(["README.md", "src/app.ts"]);
    expect(budget.note("")).toBe("");
  });

  it("stops at the most entries one search looks at, and says so", async () => {
    await mkdir(join(tree.root, "many"));
    for (let i = 0; i < 30; i++) await writeFile(join(tree.root, "many", `f${i}.txt`), "x");
    const { files, budget } = await walk({ maxEntries: 10 });
    expect(budget.entries).toBe(10);
    expect(files.length).toBeLessThanOrEqual(10);
    expect(budget.note("Narrow it.")).toBe("\n[The search stopped after looking at 10 files and directories, the most one search looks at: the results may be incomplete. Narrow it.]");
  });

  it("leaves out what is deeper than the most levels, and says so", async () => {
    await mkdir(join(tree.root, "a/b/c/d"), { recursive: true });
    await writeFile(join(tree.root, "a/b/c/d/deep.txt"), "x");
    await writeFile(join(tree.root, "a/b/shallow.txt"), "x");
    const { files, budget } = await walk({ maxDepth: 2 });
    expect(files).toEqual(["README.md", "a/b/shallow.txt", "src/app.ts"]);
    expect(budget.note("")).toBe("\n[Directories more than 2 levels deep were not searched.]");
  });

  it("stops at its time limit, and when the run stops", async () => {
    for (let i = 0; i < 200; i++) {
      await mkdir(join(tree.root, "many", `d${i}`), { recursive: true });
      await writeFile(join(tree.root, "many", `d${i}`, "f.txt"), "x");
    }
    const slow = await walk({ timeMs: 1 });
    expect(slow.files.length).toBeLessThan(200);
    expect(slow.budget.note("Narrow it.")).toBe("\n[The search stopped at its time limit of 0.001s: the results may be incomplete. Narrow it.]");
    const controller = new AbortController();
    controller.abort();
    const stopped = await walk({}, controller.signal);
    expect(stopped.files).toEqual([]);
    expect(stopped.budget.note("")).toBe("\n[The search stopped: the run is ending.]");
  });
});
