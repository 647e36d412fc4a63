import { describe, expect, it } from "vitest";
import { linesChanged } from "../../src/github/finding-lines.js";

// Old lines 10-14 of a.ts: 11 replaced, a line put in after 13.
const patch = ["@@ -9,6 +9,7 @@ header", " nine", " ten", "-eleven", "+ELEVEN", " twelve", " thirteen", "+new", " fourteen"].join("\n");
const files = [{ filename: "a.ts", status: "modified", patch }];

describe("linesChanged", () => {
  it("sees a finding's line replaced, and lines put in between its lines", () => {
    expect(linesChanged(files, "a.ts", 11, 11)).toBe(true);
    expect(linesChanged(files, "a.ts", 10, 12)).toBe(true);
    expect(linesChanged(files, "a.ts", 13, 14)).toBe(true);
  });

  it("leaves lines that only border a change, other files and untouched parts unchanged", () => {
    expect(linesChanged(files, "a.ts", 12, 13)).toBe(false);
    expect(linesChanged(files, "a.ts", 14, 14)).toBe(false);
    expect(linesChanged(files, "a.ts", 1, 10)).toBe(false);
    expect(linesChanged(files, "a.ts", 40, 50)).toBe(false);
    expect(linesChanged(files, "b.ts", 11, 11)).toBe(false);
  });

  it("counts a deleted file as changed, follows a rename, and does not guess without a patch", () => {
    expect(linesChanged([{ filename: "a.ts", status: "removed" }], "a.ts", 1, 1)).toBe(true);
    expect(linesChanged([{ filename: "b.ts", status: "renamed", previous_filename: "a.ts", patch }], "a.ts", 11, 11)).toBe(true);
    expect(linesChanged([{ filename: "b.ts", status: "renamed", previous_filename: "a.ts" }], "a.ts", 11, 11)).toBe(false);
    expect(linesChanged([{ filename: "a.ts", status: "modified" }], "a.ts", 11, 11)).toBeUndefined();
  });
});
