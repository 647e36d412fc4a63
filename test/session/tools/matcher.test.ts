import { mkdtemp, realpath, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ToolError } from "../../../src/session/define-tool.js";
import { Matcher, MatchStopped } from "../../../src/session/tools/matcher.js";
import { longestStall } from "./tree.js";

const never = () => new AbortController().signal;

describe("Matcher", () => {
  it("selects paths by glob and finds lines by regular expression", async () => {
    const glob = new Matcher({ glob: "src/**/*.ts" }, never());
    const lines = new Matcher({ regex: /b+/i }, never());
    try {
      expect(await glob.select(["src/a.ts", "src/deep/.b.ts", "README.md", "src/a.js"])).toEqual([true, true, false, false]);
      expect(await lines.lines("a\nbb\nc\nB\nabc", 2, 2)).toEqual({ found: [[2, "bb"], [4, "B"]], count: 3 });
    } finally {
      await Promise.all([glob.close(), lines.close()]);
    }
  });

  it("stops a catastrophic regular expression when its signal fires, and the server's thread stays free meanwhile", async () => {
    const controller = new AbortController();
    const matcher = new Matcher({ regex: /(a+)+$/ }, controller.signal);
    setTimeout(() => controller.abort(), 1_500);
    const started = Date.now();
    const { result, stall } = await longestStall(() => matcher.lines(`${"a".repeat(10_000)}!`, 10, 100).catch((error: unknown) => error));
    expect(result).toBeInstanceOf(MatchStopped);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stall).toBeLessThan(1_000);
    // Once stopped, it stays stopped.
    await expect(matcher.lines("a", 1, 1)).rejects.toBeInstanceOf(MatchStopped);
    await matcher.close();
  });

  it("reads and searches files in one exchange, sharing the limit and the bytes, and names the file a stopped search was at", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-matcher-")));
    const files = { "a.txt": "x\ny\nx", "b.txt": "none", "c.bin": "x\0x", "d.txt": "x\nx", "e.txt": "x" };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await symlink(join(dir, "a.txt"), join(dir, "link.txt"));
    const paths = [...Object.keys(files), "link.txt", "gone.txt"].map((name) => join(dir, name));
    const lines = new Matcher({ regex: /x/ }, never());
    try {
      expect(await lines.searchFiles(paths, { maxFileBytes: 100, bytesLeft: 1_000, limit: 3, width: 10 })).toEqual({
        files: [
          { index: 0, found: [[1, "x"], [3, "x"]], count: 2 },
          { index: 3, found: [[1, "x"]], count: 2 },
          { index: 4, found: [], count: 1 },
        ],
        bytes: 16,
        cut: false,
      });
      // Stops before the file that would pass the bytes left; skips those over the size limit.
      expect(await lines.searchFiles(paths, { maxFileBytes: 4, bytesLeft: 6, limit: 3, width: 10 })).toEqual({ files: [], bytes: 4, cut: true });
      expect(await lines.searchFiles(paths, { maxFileBytes: 100, bytesLeft: 6, limit: 3, width: 10 })).toEqual({ files: [{ index: 0, found: [[1, "x"], [3, "x"]], count: 2 }], bytes: 5, cut: true });
    } finally {
      await lines.close();
    }
    await writeFile(join(dir, "slow.txt"), `${"a".repeat(10_000)}!`);
    const controller = new AbortController();
    const slow = new Matcher({ regex: /(a+)+$/ }, controller.signal);
    setTimeout(() => controller.abort(), 500);
    const stopped = await slow.searchFiles([join(dir, "b.txt"), join(dir, "slow.txt"), join(dir, "a.txt")], { maxFileBytes: 100_000, bytesLeft: 100_000, limit: 10, width: 10 }).catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(MatchStopped);
    expect(slow.matching).toBe(1);
    await slow.close();
    // Workers are kept for later searches, but never one that was stopped mid-match.
    const after = new Matcher({ regex: /b/ }, never());
    expect(await after.lines("a\nb", 5, 5)).toEqual({ found: [[2, "b"]], count: 1 });
    await after.close();
  });

  it("answers with a tool error, not a crash, when the worker fails", async () => {
    const matcher = new Matcher({ glob: "x".repeat(100_000) }, never());
    const error = await matcher.select(["a"]).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as Error).message).toMatch(/^the pattern failed: .*too long/);
    await matcher.close();
  });
});
