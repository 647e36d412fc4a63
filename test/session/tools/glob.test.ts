import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { glob, globScope, globTool } from "../../../src/session/tools/glob.js";
import { SEARCH_LIMITS } from "../../../src/session/tools/walk-tree.js";
import { makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("glob", () => {
  it("finds files by pattern, relative to path", async () => {
    await mkdir(join(tree.root, "src", "deep"));
    await writeFile(join(tree.root, "src", "deep", ".hidden.ts"), "");
    expect((await tree.run(glob, { pattern: "**/*.ts" })).output).toBe("src/app.ts\nsrc/deep/.hidden.ts");
    expect((await tree.run(glob, { pattern: "*.md" })).output).toBe("README.md");
    expect((await tree.run(glob, { pattern: "./src/*.ts" })).output).toBe("src/app.ts");
    expect((await tree.run(glob, { pattern: "*.ts", path: "src" })).output).toBe("app.ts");
    expect((await tree.run(glob, { pattern: "lib/**/*.ts" })).output).toBe("No files match lib/**/*.ts.");
  });

  it("lists nothing through links, and refuses patterns and paths that lead out", async () => {
    for (const [target, name] of [[tree.outside, "out"], [join(tree.outside, "secret.txt"), "secret.txt"], ["/", "rootfs"], ["/proc", "proc"], [".", "loop"]]) {
      await symlink(target!, join(tree.root, name!));
    }
    expect((await tree.run(glob, { pattern: "**/*.txt" })).output).toBe("No files match **/*.txt.");
    expect((await tree.run(glob, { pattern: "**/*" })).output).toBe("README.md\nsrc/app.ts");
    expect((await tree.run(glob, { pattern: "out/**" })).output).toBe("glob failed: out leads outside the working tree");
    expect((await tree.run(glob, { pattern: "*", path: "rootfs/etc" })).output).toBe("glob failed: rootfs/etc leads outside the working tree");
    expect((await tree.run(glob, { pattern: "../outside/*" })).output).toMatch(/^glob failed: \.\.\/outside\/\* leads out of where the search starts/);
    expect((await tree.run(glob, { pattern: "/etc/*" })).output).toMatch(/^glob failed: \/etc\/\* leads out of where the search starts/);
  });

  it("stops at the most entries one search looks at, and says so", async () => {
    for (let i = 0; i < 20; i++) await writeFile(join(tree.root, `f${i}.txt`), "");
    const result = await tree.run(globTool({ ...SEARCH_LIMITS, maxEntries: 8 }), { pattern: "**/*.txt" });
    expect(result.output).toMatch(/\n\[The search stopped after looking at 8 files and directories, the most one search looks at: the results may be incomplete\. Narrow it with path or a more specific pattern\.\]$/);
  });

  it("stops when the run stops", async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await tree.run(glob, { pattern: "**/*" }, controller.signal)).output).toBe("No files match **/*.\n[The search stopped: the run is ending.]");
  });
});

describe("globScope", () => {
  it("starts a search where the pattern's literal names lead, as deep as it can match", () => {
    expect(globScope("src/**/*.ts")).toEqual({ pattern: "src/**/*.ts", prefix: ["src"], depth: undefined });
    expect(globScope("*.md")).toEqual({ pattern: "*.md", prefix: [], depth: 0 });
    expect(globScope("./a/b/*/c.ts")).toEqual({ pattern: "a/b/*/c.ts", prefix: ["a", "b"], depth: 1 });
    expect(globScope("{a,b}/*.ts")).toEqual({ pattern: "{a,b}/*.ts", prefix: [], depth: undefined });
  });
});
