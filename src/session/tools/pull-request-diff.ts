import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import type { GitHubRun } from "../github-run.js";
import type { ReviewFile } from "../review-coverage.js";
import { diffPages, patchParts, reviewScopeOf, type ReviewScope } from "../review-scope.js";
import { defuseFrames, untrustedFrame } from "../untrusted.js";

const header = (file: ReviewFile, part?: { part: number; of: number }) =>
  defuseFrames(`--- ${file.path} (${file.status}, +${file.additions} -${file.deletions})${part && part.of > 1 ? `, part ${part.part} of ${part.of}` : ""}`);

function oneFile(scope: ReviewScope, files: readonly ReviewFile[], path: string, part: number, baseRef: string): string {
  const file = files.find((candidate) => candidate.path === path);
  if (!file) throw new ToolError(`${path} is not among the files ${scope.since ? "under review" : "the pull request changes"}; pull_request_files lists them`);
  if (!file.patch) {
    // GitHub leaves out the patch of binary files and of files whose diff is too large to show.
    return `${header(file)}\nGitHub gives no diff for ${file.path}: it is binary, or its diff is too large for GitHub to show. Look at the file with view (which counts as reviewing it), or at its diff in the shell: git diff origin/${baseRef}...HEAD -- '${file.path.replace(/'/g, "'\\''")}'`;
  }
  const parts = patchParts(file.patch);
  if (part > parts.length) throw new ToolError(`${path}'s diff has ${parts.length} part${parts.length === 1 ? "" : "s"}; part ${part} is past the end`);
  scope.coverage.sawPart(file.path, part, parts.length);
  const next = part < parts.length ? `\nNext: pull_request_diff with path ${file.path} and part ${part + 1}.` : "";
  return `${untrustedFrame("diff", `${header(file, { part, of: parts.length })}\n${parts[part - 1]}`)}${next}`;
}

export function pullRequestDiffTool(run: GitHubRun): Tool {
  return defineTool({
    name: "pull_request_diff",
    readOnly: true,
    description: [
      "Read the pull request's diff: a page of files at a time (page), or one file's diff (path; a long one in parts).",
      "After an earlier review, the diff since then; whole: true for the whole pull request's.",
      "Skipped files (lock files, generated, vendored) are on no page, but can be read by path. What you read here counts as reviewed in the review's coverage line.",
    ].join(" "),
    input: z.object({
      path: z.string().min(1).optional().describe("A changed file's path, as pull_request_files lists it."),
      part: z.number().int().min(1).optional().describe("With path: the part of a long diff, from 1."),
      page: z.number().int().min(1).optional().describe("Without path: the page of files, from 1."),
      whole: z.boolean().optional().describe("After an earlier review: the whole pull request's diff instead of the diff since."),
    }),
    async execute({ path, part = 1, page = 1, whole = false }) {
      const scope = await reviewScopeOf(run);
      const pr = run.pullRequest;
      if (!scope || !pr) throw new ToolError("this run is not about a pull request, so there is no diff to read");
      const files = whole ? scope.files : scope.coverage.files;
      if (path !== undefined) return oneFile(scope, files, path, part, pr.baseRef);
      const { pages, paged } = diffPages(files);
      if (pages.length === 0) return "No file's diff is on a page: every changed file is skipped, has no diff from GitHub, or is read by path (pull_request_files says which).";
      if (page > pages.length) throw new ToolError(`the diff has ${pages.length} page${pages.length === 1 ? "" : "s"}; page ${page} is past the end`);
      const shown = pages[page - 1]!;
      for (const file of shown) scope.coverage.saw(file.path);
      const elsewhere = [...paged.values()].filter((entry) => entry.page === undefined).length;
      const next = page < pages.length ? `Next: pull_request_diff page ${page + 1} (of ${pages.length}).` : `This was the last page (${pages.length}).`;
      const rest = elsewhere > 0 ? ` ${elsewhere} file${elsewhere === 1 ? " is" : "s are"} on no page (skipped, without a diff from GitHub, or long): see pull_request_files.` : "";
      return `${untrustedFrame("diff", shown.map((file) => `${header(file)}\n${file.patch}`).join("\n"))}\n${next}${rest}`;
    },
  });
}
