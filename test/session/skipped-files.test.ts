import { describe, expect, it } from "vitest";
import { linguistRules, skipReason } from "../../src/session/skipped-files.js";

describe("files a review skips", () => {
  it("skips lock files at any depth, minified files, source maps and vendored directories by default", () => {
    expect(skipReason("package-lock.json", {})).toBe("lock file");
    expect(skipReason("web/yarn.lock", {})).toBe("lock file");
    expect(skipReason("crates/core/Cargo.lock", {})).toBe("lock file");
    expect(skipReason("go.sum", {})).toBe("lock file");
    expect(skipReason("dist/app.min.js", {})).toBe("generated");
    expect(skipReason("dist/app.js.map", {})).toBe("generated");
    expect(skipReason("vendor/github.com/x/y.go", {})).toBe("vendored");
    expect(skipReason("packages/a/node_modules/b/index.js", {})).toBe("vendored");
    expect(skipReason("src/app.ts", {})).toBeUndefined();
    expect(skipReason("src/package-lock.json.ts", {})).toBeUndefined();
    expect(skipReason("src/vendor/local.ts", {})).toBeUndefined();
  });

  it("adds the routine's globs, and takes a default back with !", () => {
    const skip = ["**/__snapshots__/**", "docs/api/**", "!vendor/our-fork/**", "!**/yarn.lock"];
    expect(skipReason("src/__snapshots__/a.snap", { skip })).toBe("skipped by review.skip");
    expect(skipReason("docs/api/index.md", { skip })).toBe("skipped by review.skip");
    expect(skipReason("vendor/our-fork/patch.go", { skip })).toBeUndefined();
    expect(skipReason("vendor/other/x.go", { skip })).toBe("vendored");
    expect(skipReason("yarn.lock", { skip })).toBeUndefined();
    expect(skipReason("docs/guide.md", { skip })).toBeUndefined();
  });

  it("follows .gitattributes: linguist-generated and linguist-vendored set, unset, last rule wins", () => {
    const gitattributes = [
      "# generated code",
      "gen/** linguist-generated",
      "*.pb.go linguist-generated=true",
      "/api.ts linguist-generated",
      "third_party/ linguist-vendored",
      "gen/keep.ts -linguist-generated",
      "dist/app.min.js linguist-generated=false",
      "*.txt text eol=lf",
    ].join("\n");
    const settings = { gitattributes };
    expect(skipReason("gen/schema.ts", settings)).toBe("generated");
    expect(skipReason("svc/a.pb.go", settings)).toBe("generated");
    expect(skipReason("api.ts", settings)).toBe("generated");
    expect(skipReason("src/api.ts", settings)).toBeUndefined();
    expect(skipReason("third_party/lib/a.c", settings)).toBe("vendored");
    expect(skipReason("gen/keep.ts", settings)).toBeUndefined();
    // Unsetting the attribute takes back the default for that file.
    expect(skipReason("dist/app.min.js", settings)).toBeUndefined();
    expect(skipReason("notes.txt", settings)).toBeUndefined();
    expect(linguistRules("*.txt text\n")).toEqual([]);
  });
});
