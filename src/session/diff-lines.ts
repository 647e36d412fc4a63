// Which lines of a pull request's diff can carry an inline review comment: GitHub accepts a
// comment only on a line that appears in the file's patch, on the side it appears on, and a
// multi-line comment only when both its ends lie in the same hunk of that patch.

export type Side = "LEFT" | "RIGHT";

export const diffLineKey = (path: string, side: Side, line: number) => `${path}:${side}:${line}`;

/**
 * The hunk (0-based, per file) of every line a patch shows, keyed by diffLineKey: added and
 * context lines on the right, removed and context lines on the left.
 */
export function commentableLines(files: ReadonlyArray<{ filename: string; patch?: string | undefined }>): Map<string, number> {
  const lines = new Map<string, number>();
  for (const { filename, patch } of files) {
    if (!patch) continue;
    let hunk = -1;
    let left = 0;
    let right = 0;
    for (const line of patch.split("\n")) {
      const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      if (header) {
        hunk += 1;
        left = Number(header[1]);
        right = Number(header[2]);
        continue;
      }
      if (hunk < 0) continue; // before the first hunk there are no lines
      if (line.startsWith("+")) lines.set(diffLineKey(filename, "RIGHT", right++), hunk);
      else if (line.startsWith("-")) lines.set(diffLineKey(filename, "LEFT", left++), hunk);
      else if (line.startsWith(" ") || line === "") {
        lines.set(diffLineKey(filename, "RIGHT", right++), hunk);
        lines.set(diffLineKey(filename, "LEFT", left++), hunk);
      }
    }
  }
  return lines;
}
