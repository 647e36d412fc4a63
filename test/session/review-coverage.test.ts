import { describe, expect, it } from "vitest";
import { ReviewCoverage } from "../../src/session/review-coverage.js";

const file = (path: string, skipped?: "lock file" | "generated") => ({ path, status: "modified", additions: 1, deletions: 1, patch: "@@ -1 +1 @@\n-a\n+b", ...(skipped ? { skipped } : {}) });

describe("a review's coverage", () => {
  it("counts the files seen whole, and names the others, skipped ones first with why", () => {
    const coverage = new ReviewCoverage([file("a.ts"), file("b.ts"), file("c.ts"), file("package-lock.json", "lock file"), file("app.min.js", "generated")]);
    coverage.saw("a.ts");
    coverage.saw("./b.ts");
    coverage.saw("not-changed.ts");
    expect(coverage.line()).toBe("Reviewed 2 of 5 files; not reviewed: package-lock.json (lock file), app.min.js (generated), c.ts.");
    expect(coverage.summary()).toEqual({ total: 5, reviewed: 2, notReviewed: [{ path: "c.ts" }, { path: "package-lock.json", why: "lock file" }, { path: "app.min.js", why: "generated" }], unlisted: 0 });
  });

  it("counts a file read in parts only once every part was seen", () => {
    const coverage = new ReviewCoverage([file("big.ts")]);
    coverage.sawPart("big.ts", 1, 3);
    coverage.sawPart("big.ts", 3, 3);
    expect(coverage.seen("big.ts")).toBe(false);
    coverage.sawPart("big.ts", 2, 3);
    expect(coverage.line()).toBe("Reviewed 1 of 1 file.");
  });

  it("names at most 20 files, counts those GitHub did not list, and shows names as text, never as HTML", () => {
    const files = Array.from({ length: 25 }, (_, i) => file(`f${i}.ts`));
    const coverage = new ReviewCoverage([...files, file("x<!--.min.js", "generated")], 4);
    const line = coverage.line();
    expect(line).toMatch(/^Reviewed 0 of 30 files; not reviewed: x&lt;!--\.min\.js \(generated\), f0\.ts, .*f18\.ts, and 6 more, 4 files GitHub does not list \(it lists the first 3000\)\.$/);
    expect(line).not.toContain("<");
  });
});
