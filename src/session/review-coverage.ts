// Which changed files of a pull request a review looked at: through the diff tools, by viewing the
// file, or by commenting on it, or because its whole diff was in the prompt. The review's body
// ends with the count and the files not reviewed, so a reader knows what the review did not cover.
import type { ChangedFile } from "./prompt.js";
import type { SkipReason } from "./skipped-files.js";

/** A changed file as a review has it, with why it is skipped by default, if it is. */
export type ReviewFile = ChangedFile;

/** What the coverage line says, for the transcript and the status comment. */
export interface CoverageSummary {
  total: number;
  reviewed: number;
  notReviewed: Array<{ path: string; why?: SkipReason }>;
  /** Files GitHub did not list (it lists at most 3000). */
  unlisted: number;
}

/** Most file names the coverage line spells out. */
const MAX_NAMED = 20;

/** A name as the coverage line shows it: what GitHub would read as HTML or a hidden mark is shown as text. */
const shown = (path: string) => path.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/[\r\n]/g, " ");

export class ReviewCoverage {
  readonly #byPath: Map<string, ReviewFile>;
  /** For each file partly seen through the diff tool: the parts seen, and how many it has. */
  readonly #parts = new Map<string, { seen: Set<number>; of: number }>();
  readonly #seen = new Set<string>();

  constructor(
    /** The files under review in this run: the whole pull request's, or those changed since the last review. */
    readonly files: readonly ReviewFile[],
    /** Files GitHub did not list beyond these. */
    readonly unlisted = 0,
  ) {
    this.#byPath = new Map(files.map((file) => [file.path, file]));
  }

  has(path: string): boolean {
    return this.#byPath.has(normalise(path));
  }

  /** The agent saw the whole of the file's change (its diff, the file, or it commented on it). */
  saw(path: string): void {
    const key = normalise(path);
    if (this.#byPath.has(key)) this.#seen.add(key);
  }

  /** The agent saw part `part` (from 1) of the `of` parts of a file's diff; all parts seen is the whole. */
  sawPart(path: string, part: number, of: number): void {
    if (of <= 1) return this.saw(path);
    const entry = this.#parts.get(path) ?? { seen: new Set<number>(), of };
    entry.seen.add(part);
    this.#parts.set(path, entry);
    if (entry.seen.size >= entry.of) this.saw(path);
  }

  seen(path: string): boolean {
    return this.#seen.has(normalise(path));
  }

  summary(): CoverageSummary {
    const notReviewed = this.files.filter((file) => !this.#seen.has(file.path)).map((file) => ({ path: file.path, ...(file.skipped ? { why: file.skipped } : {}) }));
    return { total: this.files.length + this.unlisted, reviewed: this.files.length - notReviewed.length, notReviewed, unlisted: this.unlisted };
  }

  /** "Reviewed 14 of 16 files; not reviewed: a.lock (lock file), b.min.js (generated)." */
  line(): string {
    const { total, reviewed, notReviewed, unlisted } = this.summary();
    const count = `Reviewed ${reviewed} of ${total} file${total === 1 ? "" : "s"}`;
    const unlistedWords = unlisted > 0 ? `${unlisted} file${unlisted === 1 ? "" : "s"} GitHub does not list (it lists the first 3000)` : undefined;
    if (notReviewed.length === 0 && !unlistedWords) return `${count}.`;
    // Skipped files first (they explain themselves), then those the review did not get to.
    const ordered = [...notReviewed.filter((file) => file.why), ...notReviewed.filter((file) => !file.why)];
    const named = ordered.slice(0, MAX_NAMED).map((file) => `${shown(file.path)}${file.why ? ` (${file.why})` : ""}`);
    const more = ordered.length > MAX_NAMED ? [`and ${ordered.length - MAX_NAMED} more`] : [];
    return `${count}; not reviewed: ${[...named, ...more, ...(unlistedWords ? [unlistedWords] : [])].join(", ")}.`;
  }
}

/** A path as the tools may write it ("./src/a.ts") as the diff names it ("src/a.ts"). */
const normalise = (path: string) => path.replace(/^(\.\/)+/, "").replace(/\/{2,}/g, "/");
