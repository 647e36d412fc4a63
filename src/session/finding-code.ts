// The code a finding is about, as its verification sees it: for the new version, the file at the
// pull request's head around the finding's lines (numbered, the lines marked); for removed lines,
// the hunks of the file's diff that hold them. Read through GitHub at the head the run reviews, not
// from the working tree, which the agent may have changed.
import type { Finding } from "./findings.js";
import type { GitHubRun } from "./github-run.js";

/** Lines shown before and after a finding's lines. */
const AROUND = 20;
/** Longest range of a finding shown whole. */
const MAX_SHOWN = 80;

async function fileAtHead(run: GitHubRun, path: string, ref: string): Promise<string[] | undefined> {
  try {
    const { data } = await run.octokit.rest.repos.getContent({ ...run.repository, path, ref });
    const file = data as { type?: string; content?: string; encoding?: string };
    return file.type === "file" && file.encoding === "base64" ? Buffer.from(file.content ?? "", "base64").toString("utf8").split("\n") : undefined;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** The hunks of a patch that show any of the lines start..end on a side. */
export function hunksWith(patch: string, side: Finding["side"], start: number, end: number): string[] {
  return patch
    .split(/\n(?=@@ )/)
    .filter((hunk) => {
      const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(hunk);
      if (!header) return false;
      const from = Number(side === "LEFT" ? header[1] : header[3]);
      const count = Number((side === "LEFT" ? header[2] : header[4]) ?? 1);
      return from <= end && start <= from + Math.max(count, 1) - 1;
    });
}

export async function codeAround(run: GitHubRun, finding: Finding, files: ReadonlyArray<{ filename: string; patch?: string | undefined }>): Promise<string> {
  const patch = files.find((file) => file.filename === finding.path)?.patch;
  if (finding.side === "RIGHT" && run.pullRequest) {
    const lines = await fileAtHead(run, finding.path, run.pullRequest.headSha).catch(() => undefined);
    if (lines) {
      const from = Math.max(1, finding.start - AROUND);
      const to = Math.min(lines.length, Math.min(finding.end, finding.start + MAX_SHOWN) + AROUND);
      if (from <= to) {
        const width = String(to).length;
        const shown = lines.slice(from - 1, to).map((text, i) => `${from + i >= finding.start && from + i <= finding.end ? ">" : " "} ${String(from + i).padStart(width)}  ${text}`);
        return `${finding.path} at the pull request's head, lines ${from}-${to} (> marks the finding's lines):\n${shown.join("\n")}`;
      }
    }
  }
  const hunks = patch ? hunksWith(patch, finding.side, finding.start, finding.end) : [];
  if (hunks.length > 0) return `The diff of ${finding.path} where the finding's lines are:\n${hunks.join("\n")}`;
  return `(${finding.path} could not be read at lines ${finding.start}-${finding.end}: the file is not in the pull request's head, or the lines are outside its diff.)`;
}
