import { describe, expect, it } from "vitest";
import { diffPages, PAGE_CHARS, patchParts } from "../../src/session/review-scope.js";

const hunk = (start: number, lines: number, width = 50) => [`@@ -${start},${lines} +${start},${lines} @@`, ...Array.from({ length: lines }, (_, i) => `+${"x".repeat(width)} ${start + i}`)].join("\n");

describe("the diff in pages", () => {
  it("cuts a long patch between hunks, and one huge hunk between lines, never past a page", () => {
    const patch = [hunk(1, 300), hunk(1000, 300), hunk(5000, 1200)].join("\n");
    const parts = patchParts(patch);
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(PAGE_CHARS);
    expect(parts.join("\n")).toBe(patch);
    expect(parts[1]!.startsWith("@@ -1000,300")).toBe(true);
    expect(patchParts("@@ -1 +1 @@\n-a\n+b")).toEqual(["@@ -1 +1 @@\n-a\n+b"]);
  });

  it("packs files in order into pages; skipped files, files without a patch and long ones are on none", () => {
    const small = (path: string, chars = 5_000) => ({ path, status: "added", additions: 1, deletions: 0, patch: `@@ -0,0 +1 @@\n+${"y".repeat(chars)}` });
    const files = [small("a"), small("b"), small("c"), small("d"), small("e"), { ...small("lock"), skipped: "lock file" as const }, { path: "bin", status: "added", additions: 0, deletions: 0 }, { path: "long", status: "added", additions: 1500, deletions: 0, patch: [hunk(1, 500), hunk(1000, 500), hunk(5000, 500)].join("\n") }];
    const { pages, paged } = diffPages(files);
    expect(pages.map((page) => page.map((file) => file.path))).toEqual([["a", "b", "c", "d"], ["e"]]);
    expect(paged.get("e")).toMatchObject({ page: 2, parts: 1 });
    expect(paged.get("lock")!.page).toBeUndefined();
    expect(paged.get("bin")).toMatchObject({ parts: 0 });
    expect(paged.get("long")!.parts).toBeGreaterThan(1);
    expect(paged.get("long")!.page).toBeUndefined();
  });
});
