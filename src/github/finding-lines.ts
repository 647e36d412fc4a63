// Whether later commits changed the lines a finding was about: read from the patch of the file
// between the commit the finding was posted on and the pull request's later head (GitHub's
// compare, whose hunks number the old side as the finding does).

export interface ChangedFileData {
  filename: string;
  status?: string;
  previous_filename?: string;
  /** Absent for a binary file or one too large for GitHub to show. */
  patch?: string;
}

/**
 * true: a line in `start`–`end` was removed or replaced, lines were put in between them, or the
 * file was deleted; false: the file did not change there; undefined: the patch is not there to tell.
 */
export function linesChanged(files: readonly ChangedFileData[], path: string, start: number, end: number): boolean | undefined {
  const file = files.find((candidate) => (candidate.status === "renamed" ? candidate.previous_filename : candidate.filename) === path);
  if (!file) return false;
  if (file.status === "removed") return true;
  if (file.patch === undefined) return file.status === "renamed" ? false : undefined;
  let old = 0;
  for (const line of file.patch.split("\n")) {
    const header = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
    if (header) {
      old = Number(header[1]);
      continue;
    }
    if (old === 0) continue;
    if (line.startsWith("-")) {
      if (old >= start && old <= end) return true;
      old += 1;
    } else if (line.startsWith("+")) {
      // Put in after old line `old - 1`: inside the range when that line and the next are both in it.
      if (old - 1 >= start && old <= end) return true;
    } else if (!line.startsWith("\\")) {
      old += 1;
    }
  }
  return false;
}
