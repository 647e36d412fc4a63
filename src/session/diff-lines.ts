// Which lines of a pull request's diff can carry an inline review comment: GitHub accepts a
// comment only on a line that appears in the file's patch, on the side it appears on.

export type Side = "LEFT" | "RIGHT";

/** "path:SIDE:line" for every line a patch shows (added and context lines on the right, removed and context on the left). */
export function commentableLines(files: ReadonlyArray<{ filename: string; patch?: string | undefined }>): Set<string> {
  const lines = new Set<string>();
  for (const { filename, patch } of files) {
    if (!patch) continue;
    let left = 0;
    let right = 0;
    for (const line of patch.split("\n")) {
      const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      if (hunk) {
        left = Number(hunk[1]);
        right = Number(hunk[2]);
        continue;
      }
      if (line.startsWith("+")) lines.add(`${filename}:RIGHT:${right++}`);
      else if (line.startsWith("-")) lines.add(`${filename}:LEFT:${left++}`);
      else if (line.startsWith(" ") || line === "") {
        lines.add(`${filename}:RIGHT:${right++}`);
        lines.add(`${filename}:LEFT:${left++}`);
      }
    }
  }
  return lines;
}
