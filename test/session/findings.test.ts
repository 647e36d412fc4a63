import { describe, expect, it } from "vitest";
import { normaliseWording, repeatedFinding, type PostedFinding } from "../../src/session/findings.js";

const posted = (body: string, ranges: Array<[number, number]> = [[10, 12]], path = "src/a.ts"): PostedFinding => ({ path, side: "RIGHT", ranges, body });
const at = (body: string, start = 11, end = start, path = "src/a.ts") => ({ path, side: "RIGHT" as const, start, end, body });

describe("normaliseWording", () => {
  it("sets aside case, punctuation, Markdown, numbers, code and the harness's own marks and notes", () => {
    expect(normaliseWording("**Off by one:** `MAX_RETRIES` allows [4 tries](https://x.y/z).\n\n<!-- routines:0123456789abcdef -->")).toBe("off by one code allows 0 tries");
    expect(normaliseWording("Use this.\n\n```suggestion\n  fixed();\n```")).toBe("use this");
    expect(normaliseWording("Both.\n\nSuggested replacement for lines 3-22:\n\n```\nx\n```\n\n_About lines 3-22; shown on line 22 because the range spans more than one hunk of the diff._")).toBe("both code");
  });
});

describe("repeatedFinding", () => {
  const earlier = posted("The retry limit `MAX_RETRIES` is off by one: it allows 4 tries.");

  it("finds the same remark on overlapping lines, reworded within what normalising sets aside or in another order", () => {
    expect(repeatedFinding(at("the retry limit `maxRetries` is OFF BY ONE; it allows 5 tries"), [earlier])).toBe(earlier);
    expect(repeatedFinding(at("It allows 4 tries: the retry limit `x` is off by one.", 12, 14), [earlier])).toBe(earlier);
    expect(repeatedFinding(at("The retry limit is off by one: it allows 4 tries.", 9, 10), [posted("x"), earlier])).toBe(earlier);
  });

  it("keeps other remarks, other lines, other files and other sides apart", () => {
    expect(repeatedFinding(at("The retry limit `MAX_RETRIES` is never read."), [earlier])).toBeUndefined();
    expect(repeatedFinding(at("The retry limit `MAX_RETRIES` is off by one: it allows 4 tries.", 13, 20), [earlier])).toBeUndefined();
    expect(repeatedFinding(at("The retry limit `MAX_RETRIES` is off by one: it allows 4 tries.", 11, 11, "src/b.ts"), [earlier])).toBeUndefined();
    expect(repeatedFinding({ ...at("The retry limit `MAX_RETRIES` is off by one: it allows 4 tries."), side: "LEFT" }, [earlier])).toBeUndefined();
    // Short remarks that differ by a word are different remarks.
    expect(repeatedFinding(at("`a` can be null"), [posted("`b` can be undefined")])).toBeUndefined();
  });
});
