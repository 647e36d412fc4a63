import { spawn } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { grep, grepTool } from "../../../src/session/tools/grep.js";
import { SEARCH_LIMITS } from "../../../src/session/tools/walk-tree.js";
import { longestStall, makeTree, type Tree } from "./tree.js";

/** Renames as fast as it can: d is the directory "real", then the link "link", and again. */
const SWAPPER = `const { renameSync } = require("node:fs");
for (;;) for (const [from, to] of [["real", "d"], ["d", "real"], ["link", "d"], ["d", "link"]]) try { renameSync(from, to); } catch {}`;

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

  it("reads nothing outside the tree while a command swaps a directory for a link out of it", async () => {
    await mkdir(join(tree.root, "real"));
    await writeFile(join(tree.root, "real", "secret.txt"), "nothing here\n");
    await symlink(tree.outside, join(tree.root, "link"));
    // As a command running beside the search would: d is the directory, then the link, again and again.
    const swapper = spawn(process.execPath, ["-e", SWAPPER], { cwd: tree.root, stdio: "ignore" });
    try {
      const outputs: string[] = [];
      const until = Date.now() + 4_000;
      while (Date.now() < until) outputs.push((await tree.run(grep, { pattern: "secret-|nothing" })).output);
      expect(outputs.length).toBeGreaterThan(10);
      expect(outputs.join("\n")).not.toContain(tree.secret);
    } finally {
      swapper.kill("SIGKILL");
    }
  });

  it("shows the first matches in the tree's order and counts the rest, skipping what .gitignore names", async () => {
    for (let i = 0; i < 400; i++) await writeFile(join(tree.root, `f${String(i).padStart(3, "0")}.txt`), `match ${i}\n`);
    await writeFile(join(tree.root, ".gitignore"), "ignored/\n*.log\n");
    await mkdir(join(tree.root, "ignored"));
    await writeFile(join(tree.root, "ignored", "a.txt"), "match hidden\n");
    await writeFile(join(tree.root, "x.log"), "match log\n");
    const { output } = await tree.run(grep, { pattern: "^match" });
    const lines = output.split("\n");
    expect(lines).toHaveLength(301);
    expect(lines[0]).toBe("f000.txt:1: match 0");
    expect(lines[299]).toBe("f299.txt:1: match 299");
    expect(lines[300]).toBe("[100 more matches not shown; narrow the search]");
    expect(output).not.toContain("hidden");
    expect(output).not.toContain("log");
    // Named by path, an ignored file is searched.
    expect((await tree.run(grep, { pattern: "match", path: "x.log" })).output).toBe("x.log:1: match log");
  });

  it("takes ripgrep's syntax with lookarounds and backreferences, and explains a pattern it cannot compile", async () => {
    await writeFile(join(tree.root, "words.txt"), "foo bar\nfoofoo\nbar foo\n");
    expect((await tree.run(grep, { pattern: "foo(?= bar)" })).output).toBe("words.txt:1: foo bar");
    expect((await tree.run(grep, { pattern: "(foo)\\1" })).output).toBe("words.txt:2: foofoo");
    expect((await tree.run(grep, { pattern: "FOO\\/?", ignore_case: true, path: "words.txt" })).output).toBe("words.txt:1: foo bar\nwords.txt:2: foofoo\nwords.txt:3: bar foo");
    expect((await tree.run(grep, { pattern: "(unclosed" })).output).toMatch(/^grep failed: invalid regular expression: .*unclosed/);
  });

  it("stops at its time limit, with the server's thread free meanwhile", async () => {
    const { result, stall } = await longestStall(() => tree.run(grepTool({ ...SEARCH_LIMITS, timeMs: 1 }), { pattern: "add" }));
    expect(result.output).toBe("No matches for /add/.\n[The search stopped at its time limit of 0.001s: the results may be incomplete. Narrow it with path or include.]");
    expect(stall).toBeLessThan(1_000);
  });

  it("stops when the run stops", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await tree.run(grep, { pattern: "add" }, controller.signal);
    expect(result.output).toBe("No matches for /add/.\n[The search stopped: the run is ending.]");
  });

  it("never searches inside .git, however it is named", async () => {
    await mkdir(join(tree.root, ".git"));
    await writeFile(join(tree.root, ".git", "config"), "add = 1\n");
    await mkdir(join(tree.root, "sub", ".git"), { recursive: true });
    await writeFile(join(tree.root, "sub", ".git", "HEAD"), "add\n");
    await symlink(".git", join(tree.root, "git-link"));
    expect((await tree.run(grep, { pattern: "add", include: "**" })).output).toBe("src/app.ts:1: export function add(a: number, b: number) {");
    expect((await tree.run(grep, { pattern: "add", path: ".git" })).output).toMatch(/^grep failed: \.git is inside a \.git directory/);
    expect((await tree.run(grep, { pattern: "add", path: "git-link/config" })).output).toMatch(/^grep failed: git-link\/config is inside a \.git directory/);
  });

  it("skips binary and large files", async () => {
    await writeFile(join(tree.root, "bin.dat"), Buffer.from([0x61, 0x64, 0x64, 0, 1, 2]));
    await writeFile(join(tree.root, "big.txt"), `add\n${"x".repeat(3 * 1024 * 1024)}`);
    expect((await tree.run(grep, { pattern: "add", path: "." })).output).toBe("src/app.ts:1: export function add(a: number, b: number) {");
  });
});
