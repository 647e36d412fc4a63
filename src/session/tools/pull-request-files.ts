import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import type { ReviewFile } from "../review-coverage.js";
import { diffPages, formatSize, reviewScopeOf, type PagedFile } from "../review-scope.js";
import { defuseFrames } from "../untrusted.js";

/** Files listed in one result: a page as GitHub's own listing has it. */
export const FILES_PER_PAGE = 100;

function describe(entry: PagedFile, seen: boolean): string {
  const { file } = entry;
  const size = file.patch ? `diff ${formatSize(file.patch.length)}` : "no diff from GitHub (binary, or too large for GitHub to show): look at the file with view";
  const where = file.skipped
    ? `skipped (${file.skipped}); read it anyway with pull_request_diff path if it matters`
    : entry.page !== undefined
      ? `diff page ${entry.page}`
      : entry.parts > 1
        ? `read by path, in ${entry.parts} parts`
        : undefined;
  return defuseFrames(`- ${file.path} (${file.status}, +${file.additions} -${file.deletions}, ${size}${where ? `; ${where}` : ""}${seen ? "; seen" : ""})`);
}

export function pullRequestFilesTool(run: GitHubRun): Tool {
  return defineTool({
    name: "pull_request_files",
    readOnly: true,
    description: [
      `List the files under review on the pull request, ${FILES_PER_PAGE} at a time, with each one's status, lines added and removed, the size of its diff, the page of pull_request_diff that shows it, and whether you have seen it.`,
      "Lock files, generated and vendored files are skipped by default; the review's coverage line names every file not reviewed.",
    ].join(" "),
    input: z.object({
      page: z.number().int().min(1).optional().describe(`Page of the listing, from 1 (${FILES_PER_PAGE} files a page).`),
      whole: z.boolean().optional().describe("After an earlier review: list the whole pull request's files instead of those changed since."),
    }),
    async execute({ page = 1, whole = false }) {
      const scope = await reviewScopeOf(run);
      if (!scope) throw new ToolError("this run is not about a pull request, so there are no changed files to list");
      const files: readonly ReviewFile[] = whole ? scope.files : scope.coverage.files;
      const { pages, paged } = diffPages(files);
      const last = Math.max(1, Math.ceil(files.length / FILES_PER_PAGE));
      if (page > last) throw new ToolError(`there ${last === 1 ? "is 1 page" : `are ${last} pages`} of files; page ${page} is past the end`);
      const shown = files.slice((page - 1) * FILES_PER_PAGE, page * FILES_PER_PAGE).map((file) => describe(paged.get(file.path)!, scope.coverage.seen(file.path)));
      const skipped = files.filter((file) => file.skipped).length;
      const what = scope.since && !whole ? `changed since ${scope.since} (the last review)` : "changed on the pull request";
      const unlisted = scope.coverage.unlisted > 0 && (whole || !scope.since) ? ` GitHub lists only the first ${files.length}; ${scope.coverage.unlisted} more are in git (git diff).` : "";
      return [
        `${files.length} file${files.length === 1 ? "" : "s"} ${what}, ${skipped} skipped by default.${unlisted} Page ${page} of ${last}.`,
        `Their diff is on ${pages.length} page${pages.length === 1 ? "" : "s"} of pull_request_diff (page: 1 to ${Math.max(1, pages.length)}); files on no page are read with pull_request_diff path.`,
        ...shown,
      ].join("\n");
    },
  });
}
