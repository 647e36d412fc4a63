import { describe, expect, it } from "vitest";
import { hunksWith } from "../../src/session/finding-code.js";

describe("the code around a finding", () => {
  const patch = ["@@ -1,3 +1,3 @@", " a", "-b", "+B", "@@ -40,2 +40,3 @@", " x", "+y", " z"].join("\n");

  it("gives the hunks that show the finding's lines, on its side", () => {
    expect(hunksWith(patch, "LEFT", 2, 2)).toEqual(["@@ -1,3 +1,3 @@\n a\n-b\n+B"]);
    expect(hunksWith(patch, "RIGHT", 41, 41)).toEqual(["@@ -40,2 +40,3 @@\n x\n+y\n z"]);
    expect(hunksWith(patch, "RIGHT", 2, 41)).toHaveLength(2);
    expect(hunksWith(patch, "RIGHT", 10, 20)).toEqual([]);
  });
});
