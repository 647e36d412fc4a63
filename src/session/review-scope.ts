// What a run that reviews a pull request knows of its diff: the changed files as GitHub lists
// them, the files this run reviews (all, or those changed since its last review) with the
// coverage of them, and the verifier of findings when the routine asks for one. The diff tools,
// create_review and the session share it.
import type { GitHubRun } from "./github-run.js";
import { ReviewCoverage, type ReviewFile } from "./review-coverage.js";
import { skipReason } from "./skipped-files.js";
import type { FindingVerifier } from "./verify-findings.js";

export interface ReviewScope {
  /** The pull request's changed files, as GitHub lists them (at most 3000). */
  files: readonly ReviewFile[];
  /** The files under review in this run, and which of them the agent looked at. */
  coverage: ReviewCoverage;
  /** Set when the run reviews only what changed since this commit (its last review). */
  since?: string;
  /** Checks each inline finding before it is posted (review.verify). */
  verifier?: FindingVerifier;
}

/**
 * The run's review scope; a run that has none yet but is about a pull request (`routines run` on
 * a checkout) lists the pull request's files once and keeps them, skipping the default list.
 */
export async function reviewScopeOf(run: GitHubRun): Promise<ReviewScope | undefined> {
  if (run.review || !run.pullRequest) return run.review;
  const listed = await run.octokit.paginate(run.octokit.rest.pulls.listFiles, { ...run.repository, pull_number: run.pullRequest.number, per_page: 100 });
  const files = listed.map((file): ReviewFile => {
    const skipped = skipReason(file.filename, {});
    return { path: file.filename, status: file.status, additions: file.additions, deletions: file.deletions, ...(file.patch ? { patch: file.patch } : {}), ...(skipped ? { skipped } : {}) };
  });
  run.review ??= { files, coverage: new ReviewCoverage(files) };
  return run.review;
}

/** Most characters of diff one page or part shows: under a tool result's limit, with room for the headers. */
export const PAGE_CHARS = 24_000;

/** A file's patch in parts of at most PAGE_CHARS, cut between hunks (or, for one huge hunk, between lines). */
export function patchParts(patch: string): string[] {
  if (patch.length <= PAGE_CHARS) return [patch];
  const pieces = patch.split(/\n(?=@@ )/).flatMap((hunk) => (hunk.length <= PAGE_CHARS ? [hunk] : linesUpTo(hunk)));
  const parts: string[] = [];
  let current = "";
  for (const piece of pieces) {
    if (current && current.length + 1 + piece.length > PAGE_CHARS) {
      parts.push(current);
      current = "";
    }
    current = current ? `${current}\n${piece}` : piece;
  }
  if (current) parts.push(current);
  return parts;
}

function linesUpTo(hunk: string): string[] {
  const pieces: string[] = [];
  let current = "";
  for (const line of hunk.split("\n")) {
    const cut = line.length > PAGE_CHARS ? `${line.slice(0, PAGE_CHARS - 40)} [… line cut]` : line;
    if (current && current.length + 1 + cut.length > PAGE_CHARS) {
      pieces.push(current);
      current = "";
    }
    current = current ? `${current}\n${cut}` : cut;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** A file as the diff pages hold it: shown whole on a page, or too long for a page (read it by path, in parts). */
export interface PagedFile {
  file: ReviewFile;
  page?: number;
  parts: number;
}

/**
 * The pages of the diff: files in GitHub's order packed into pages of at most PAGE_CHARS. Skipped
 * files, files without a patch and files longer than a page are on no page; the files listing
 * names them and how to read them.
 */
export function diffPages(files: readonly ReviewFile[]): { pages: ReviewFile[][]; paged: Map<string, PagedFile> } {
  const pages: ReviewFile[][] = [];
  const paged = new Map<string, PagedFile>();
  let used = 0;
  for (const file of files) {
    const parts = file.patch ? patchParts(file.patch).length : 0;
    if (file.skipped || !file.patch || parts > 1) {
      paged.set(file.path, { file, parts });
      continue;
    }
    const size = file.patch.length + file.path.length + 40;
    if (pages.length === 0 || used + size > PAGE_CHARS) {
      pages.push([]);
      used = 0;
    }
    pages.at(-1)!.push(file);
    used += size;
    paged.set(file.path, { file, page: pages.length, parts: 1 });
  }
  return { pages, paged };
}

export const formatSize = (chars: number) => (chars < 1000 ? `${chars} B` : `${(chars / 1000).toFixed(1)} kB`);
