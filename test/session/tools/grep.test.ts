import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { grep, grepTool } from "../../../src/session/tools/grep.js";
import { SEARCH_LIMITS } from "../../../src/session/tools/walk-tree.js";
import { longestStall, makeTree, type Tree } from "./tree.js";

let tree: Tree;
beforeEach(async () => {
  tree = await makeTree();
});
afterEach(async () => {
  await tree.remove();
});

describe("grep", () => {
  it("finds lines in the tree's files, a single file, and the files include names", async () => {
    await mkdir(join(tree.root, "docs"));
    await writeFile(join(tree.root, "docs", "a.md"), "add it\n");
    expect((await tree.run(grep, { pattern: "add" })).output).toBe("docs/a.md:1: add it\nsrc/app.ts:1: export function add(a: number, b: number) {");
    expect((await tree.run(grep, { pattern: "add", include: "**/*.md" })).output).toBe("docs/a.md:1: add it");
    expect((await tree.run(grep, { pattern: "add", include: "*.md" })).output).toBe("No matches for /add/.");
    expect((await tree.run(grep, { pattern: "return", path: "src/app.ts", include: "*.md" })).output).toBe("src/app.ts:2:   return a + b;");
    expect((await tree.run(grep, { pattern: "add", path: "src", include: "*.ts" })).output).toBe("src/app.ts:1: export function add(a: number, b: number) {");
  });

  it("reads nothing through links out of the tree, wherever they point", async () => {
    for (const [target, name] of [[tree.outside, "out"], [join(tree.outside, "secret.txt"), "secret-link"], ["../outside/nested", "up"], ["/", "rootfs"], ["/proc", "proc"], [".", "loop"]]) {
      await symlink(target!, join(tree.root, name!));
    }
    await mkdir(join(tree.root, "deep", "er"), { recursive: true });
    await symlink("../../out", join(tree.root, "deep", "er", "again"));
    const outputs = [];
    for (const input of [{ pattern: "secret" }, { pattern: "secret", path: "deep" }, { pattern: ".", include: "**/secret*" }, { pattern: "secret", path: "out" }, { pattern: "secret", path: "secret-link" }, { pattern: "root", path: "rootfs/etc" }, { pattern: "secret", path: "deep/er/again" }]) {
      outputs.push((await tree.run(grep, input)).output);
    }
    expect(outputs.join("\n")).not.toContain(tree.secret);
    expect(outputs).toEqual([
      "No matches for /secret/.",
      "No matches for /secret/.",
      "No matches for /./.",
      "grep failed: out leads outside the working tree",
      "grep failed: secret-link leads outside the working tree",
      "grep failed: rootfs/etc leads outside the working tree",
      "grep failed: deep/er/again leads outside the working tree",
    ]);
    expect((await tree.run(grep, { pattern: "x", include: "../outside/*" })).output).toMatch(/^grep failed: \.\.\/outside\/\* leads out of where the search starts/);
  });

  it("stops at its caps on entries and bytes, and tells the model to narrow the search", async () => {
    for (let i = 0; i < 20; i++) await writeFile(join(tree.root, `f${String(i).padStart(2, "0")}.txt`), `match ${i}\n${"x".repeat(100)}\n`);
    const few = await tree.run(grepTool({ ...SEARCH_LIMITS, maxEntries: 5 }), { pattern: "match" });
    expect(few.output).toMatch(/\n\[The search stopped after looking at 5 files and directories, the most one search looks at: the results may be incomplete\. Narrow it with path or include\.\]$/);
    const small = await tree.run(grepTool({ ...SEARCH_LIMITS, maxBytes: 500 }), { pattern: "match" });
    expect(small.output.split("\n").filter((line) => line.includes(": match"))).toHaveLength(4);
    expect(small.output).toMatch(/\n\[The search stopped after reading \d+ bytes, near the most one search reads \(500 bytes\): the results may be incomplete\. Narrow it with path or include\.\]$/);
  });

  it("stops a catastrophic regular expression at its time limit, with the server's thread free meanwhile", async () => {
    await writeFile(join(tree.root, "long.txt"), `${"a".repeat(10_000)}!\n`);
    const started = Date.now();
    const { result, stall } = await longestStall(() => tree.run(grepTool({ ...SEARCH_LIMITS, timeMs: 1_500 }), { pattern: "(a+)+$" }));
    expect(result.output).toBe(
      "No matches for /(a+)+$/.\n[The search stopped at its time limit of 1.5s while matching long.txt: the pattern is too slow on it (nested repetition such as (a+)+ can take exponential time). Simplify the pattern, or narrow the search.]",
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stall).toBeLessThan(1_000);
  });

  it("stops when the run stops", async () => {
    await writeFile(join(tree.root, "long.txt"), `${"a".repeat(10_000)}!\n`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const started = Date.now();
    const result = await tree.run(grep, { pattern: "(a+)+$" }, controller.signal);
    expect(result.output).toBe("No matches for /(a+)+$/.\n[The search stopped: the run is ending.]");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("skips binary and large files", async () => {
    await writeFile(join(tree.root, "bin.dat"), Buffer.from([0x61, 0x64, 0x64, 0, 1, 2]));
    await writeFile(join(tree.root, "big.txt"), `add\n${"x".repeat(3 * 1024 * 1024)}`);
    expect((await tree.run(grep, { pattern: "add", path: "." })).output).toBe("src/app.ts:1: export function add(a: number, b: number) {");
  });
});
