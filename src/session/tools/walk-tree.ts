// The glob tool's walk over a directory of the working tree, and what bounds one search. Links
// are never followed (no search lists or reads through one, wherever it points), .git and
// node_modules are skipped, and a search stops at its caps (entries looked at, time),
// or when the run stops; its result then says it was cut short, so the model narrows it.
import { join } from "node:path";
import type { TreeEntry } from "../paths.js";

export interface SearchLimits {
  /** Files and directories one search looks at. */
  maxEntries: number;
  /** Directory levels below where a search starts. */
  maxDepth: number;
  /** How long one search may take. */
  timeMs: number;
}

export const SEARCH_LIMITS: SearchLimits = { maxEntries: 50_000, maxDepth: 64, timeMs: 30_000 };

/** Directories no search enters (unless it starts inside one). */
export const IGNORED = new Set([".git", "node_modules"]);

/** What one search has used, and why it stopped early, if it did. */
export class SearchBudget {
  entries = 0;
  cut: "entries" | "time" | "run" | undefined;
  /** Directories below maxDepth were left out. */
  tooDeep = false;
  /** What the pattern was being matched against, while it was. */
  matching: string | undefined;
  /** Fires at the time limit or when the run stops. */
  readonly signal: AbortSignal;

  constructor(
    readonly limits: SearchLimits,
    private readonly run: AbortSignal,
  ) {
    this.signal = AbortSignal.any([run, AbortSignal.timeout(limits.timeMs)]);
  }

  /** Whether the search should stop: a cap reached, its time up, or the run stopping. */
  get stopped(): boolean {
    if (this.signal.aborted) this.cut ??= this.run.aborted ? "run" : "time";
    return this.cut !== undefined;
  }

  /** The line that ends a search's result when it did not look at everything; "" otherwise. */
  note(narrow: string): string {
    if (!this.stopped && !this.tooDeep) return "";
    const incomplete = `the results may be incomplete. ${narrow}`;
    const lines: string[] = [];
    if (this.cut === "entries") lines.push(`The search stopped after looking at ${this.entries} files and directories, the most one search looks at: ${incomplete}`);
    if (this.cut === "time" && this.matching !== undefined) {
      lines.push(
        `The search stopped at its time limit of ${this.limits.timeMs / 1000}s while matching ${this.matching}: the pattern is too slow on it (nested repetition such as (a+)+ can take exponential time). Simplify the pattern, or narrow the search.`,
      );
    } else if (this.cut === "time") lines.push(`The search stopped at its time limit of ${this.limits.timeMs / 1000}s: ${incomplete}`);
    if (this.cut === "run") lines.push("The search stopped: the run is ending.");
    if (this.tooDeep) lines.push(`Directories more than ${this.limits.maxDepth} levels deep were not searched.`);
    return lines.map((line) => `\n[${line}]`).join("");
  }
}

/**
 * Calls `visit` with each directory under `start` (itself first) and the names of its regular
 * files, depth first, names sorted, at most `depth` levels down. `start` stays the caller's to close.
 */
export async function walkTree(start: TreeEntry, budget: SearchBudget, depth: number, visit: (dir: TreeEntry, files: string[]) => Promise<void>): Promise<void> {
  const walk = async (dir: TreeEntry, level: number): Promise<void> => {
    if (budget.stopped) return;
    const listing = await dir.list(budget.limits.maxEntries - budget.entries).catch(() => undefined);
    if (!listing) return; // unreadable, or gone meanwhile
    budget.entries += listing.entries.length;
    if (listing.more) budget.cut ??= "entries";
    const files: string[] = [];
    const dirs: string[] = [];
    for (const entry of listing.entries) {
      const type = await dir.typeOf(entry);
      if (type === "file") files.push(entry.name);
      else if (type === "directory" && !IGNORED.has(entry.name)) dirs.push(entry.name);
    }
    if (files.length > 0) await visit(dir, files.sort());
    for (const name of dirs.sort()) {
      if (budget.stopped) return;
      if (level >= depth) {
        if (depth >= budget.limits.maxDepth) budget.tooDeep = true;
        return;
      }
      // Opened without following a link: a directory swapped for a link meanwhile is skipped.
      const child = await dir.child(name, true);
      if (!child) continue;
      try {
        await walk(child, level + 1);
      } finally {
        await child.close();
      }
    }
  };
  await walk(start, 0);
}

/** A path relative to `base` (a directory's path relative to the root) for something in `dir`. */
export const under = (base: string, dir: TreeEntry, name: string, prefix: string[] = []) =>
  join(...prefix, dir.path.slice(base.length).replace(/^\//, ""), name);
