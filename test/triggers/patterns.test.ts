import { describe, expect, it } from "vitest";
import { patternMismatch } from "../../src/triggers/patterns.js";

const path = (value: string, patterns: string | string[]) => patternMismatch(value, patterns, { kind: "path" });

describe("path patterns", () => {
  it("reads a leading # as part of the glob, not as a comment", () => {
    expect(path("#123-fix", "#123-*")).toBeUndefined();
    expect(path("#124-fix", "#123-*")).toBe('does not match "#123-*"');
    expect(path("#123-fix", "!#123-*")).toBe('is excluded by "!#123-*"');
  });

  it("negates only through its own leading !, once", () => {
    expect(path("main", "!main")).toBe('is excluded by "!main"');
    expect(path("!main", "!!main")).toBe('is excluded by "!!main"');
    expect(path("main", "!!main")).toBeUndefined();
    expect(path("other", "!!main")).toBeUndefined();
  });

  it('says that * stops at "/" when ** would have matched', () => {
    expect(path("feature/a/b", "feature/*")).toBe('does not match "feature/*" (* stops at "/": use "feature/**" to match across "/")');
    expect(path("team/x/fix-1", "*/fix-*")).toBe('does not match "*/fix-*" (* stops at "/": use "**/fix-*" to match across "/")');
    expect(path("feature/a/b", ["main", "feature/*"])).toBe(
      'does not match any of "main", "feature/*" (* stops at "/": use "feature/**" to match across "/")',
    );
  });

  it("says nothing of / when it is not what failed", () => {
    expect(path("bugfix/a/b", "feature/*")).toBe('does not match "feature/*"');
    expect(path("release-1/x", "release-*")).toBe('does not match "release-*"');
    expect(path("feature", "feature/*")).toBe('does not match "feature/*"');
    expect(path("feature/a/b", "/^feature\\/[^/]*$/")).toBe('does not match "/^feature\\/[^/]*$/"');
    expect(patternMismatch("a/b", "a*", { kind: "text" })).toBeUndefined();
  });
});
