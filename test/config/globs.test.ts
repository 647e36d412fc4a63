import { minimatch } from "minimatch";
import { describe, expect, it } from "vitest";
import { expandBraces, matchPathGlob, matchTextGlob } from "../../src/config/globs.js";
import { StepBudget, StepBudgetExceeded } from "../../src/config/step-budget.js";

const GLOBS = ["main", "mas*", "feature/*", "feature/**", "**/fix-*", "*/fix-*", "release-?.*", "release-{1,2}.*", "v[0-9]*", "v[!0-9]*", "#123-*", "a/**/b", "**", "*", "[bot]", "dependabot[bot]"];
const NAMES = ["main", "master", "feature/a", "feature/a/b", "feature", "team/x/fix-1", "x/fix-2", "release-1.2", "release-3.0", "release-10.1", "v1.0", "va", "#123-fix", "a/b", "a/x/y/b", "b", "dependabot[bot]", "t"];

describe("path globs", () => {
  it("answer as minimatch does for the globs people write", () => {
    for (const glob of GLOBS) {
      for (const name of NAMES) {
        expect(matchPathGlob(glob, name), `${glob} ~ ${name}`).toBe(minimatch(name, glob, { dot: true, nocomment: true, nonegate: true }));
      }
    }
  });

  it("ignore case when asked", () => {
    expect(matchPathGlob("Feature/*", "feature/A", { ignoreCase: true })).toBe(true);
    expect(matchPathGlob("Feature/*", "feature/A")).toBe(false);
  });

  it("refuse braces that expand too far", () => {
    expect(() => expandBraces("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}")).toThrow("expands to more than 64 alternatives");
  });

  it("match many wildcards against a long name quickly", () => {
    const started = performance.now();
    expect(matchPathGlob(`${"*a".repeat(30)}*b`, "a".repeat(250))).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("text globs", () => {
  it("read * as any text, ? as one character, and everything else literally", () => {
    expect(matchTextGlob("*[bot]", "dependabot[bot]")).toBe(true);
    expect(matchTextGlob("*[bot]", "dependabot")).toBe(false);
    expect(matchTextGlob("a*", "a/b\nc")).toBe(true);
    expect(matchTextGlob("?b", "ab")).toBe(true);
    expect(matchTextGlob("?b", "b")).toBe(false);
    expect(matchTextGlob("*skip*", "please SKIP it", { ignoreCase: true })).toBe(true);
    expect(matchTextGlob("", "")).toBe(true);
    expect(matchTextGlob("**", "")).toBe(true);
  });

  it("match the pattern that stalled the server, in linear time", () => {
    const glob = `${"*a".repeat(10)}*b`;
    const started = performance.now();
    expect(matchTextGlob(glob, "a".repeat(34))).toBe(false);
    expect(matchTextGlob(glob, `${"a".repeat(33)}b`)).toBe(true);
    expect(matchTextGlob(`${"*a".repeat(100)}*b`, "a".repeat(65_536))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("stops at the step budget", () => {
    expect(() => matchTextGlob(`${"*a".repeat(100)}*b`, "a".repeat(65_536), { budget: new StepBudget(10_000) })).toThrow(StepBudgetExceeded);
  });
});
