// What changed on a pull request since its routine last reviewed it: the commits after the one
// reviewed, when the head still descends from it; else (a force-push or a rebase dropped it) the
// whole pull request is reviewed again. Of those changes, only the files the pull request itself
// changes: a merge of the base branch into it (GitHub's "Update branch") brings the base's new
// commits in after the reviewed one, and their files are not the pull request's to review.
import type { Octokit } from "../config/read-config-file.js";
import type { RepositoryId } from "../run-request.js";
import type { ChangedFile, SinceReview } from "./prompt.js";

/** Commits of one page of GitHub's compare, and the most files it lists. */
const COMPARE_PAGE = 100;
const COMPARE_FILES = 300;

export async function changesSinceReview(octokit: Octokit, repository: RepositoryId, commit: string, head: string): Promise<SinceReview> {
  if (commit === head) return { kind: "unchanged", commit };
  try {
    // GitHub's compare: "ahead" when `commit` is an ancestor of the head; its files are then the diff since.
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ ...repository, basehead: `${commit}...${head}`, per_page: COMPARE_PAGE });
    if (data.status === "identical") return { kind: "unchanged", commit };
    if (data.status !== "ahead") return { kind: "whole", commit, why: "it is no longer part of the branch's history (a force-push or a rebase)" };
    // With per_page, GitHub lists the files of the first page's commits only, and at most 300 files: past that the list is not all of it.
    if (data.ahead_by > COMPARE_PAGE || (data.files?.length ?? 0) >= COMPARE_FILES) {
      return { kind: "whole", commit, why: `more changed since it than GitHub's compare lists whole (${data.ahead_by} commits, ${data.files?.length ?? 0} files listed)` };
    }
    const files = (data.files ?? []).map(
      (file): ChangedFile => ({ path: file.filename, status: file.status, additions: file.additions, deletions: file.deletions, ...(file.patch ? { patch: file.patch } : {}) }),
    );
    return { kind: "since", commit, commits: data.ahead_by, files };
  } catch (error) {
    // GitHub answers 404 for a commit it no longer has, or one with no common history.
    const status = (error as { status?: number }).status;
    if (status === 404) return { kind: "whole", commit, why: "it is no longer part of the branch's history (a force-push or a rebase)" };
    return { kind: "whole", commit, why: `the changes since it could not be read (GitHub answered ${status ?? (error as Error).message})` };
  }
}

/**
 * The changes since the review, narrowed to `pullRequestFiles` (every file the pull request
 * changes); the files left out are counted. A file both changed still shows whatever the merge
 * brought into it.
 */
export function withinPullRequest(since: SinceReview, pullRequestFiles: ReadonlySet<string>): SinceReview {
  if (since.kind !== "since") return since;
  const files = since.files.filter((file) => pullRequestFiles.has(file.path));
  const outside = since.files.length - files.length;
  return outside === 0 ? since : { ...since, files, outside };
}
