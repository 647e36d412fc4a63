// The per-run cap on GitHub writes made by tools (comments, reviews, issues, labels, assignees,
// state changes, pull requests): a routine that loops, or is steered to spam, stops at the cap
// while its run goes on. One counter per run, shared by every repository the run writes to.
import { ToolError } from "./define-tool.js";

/** Writes a routine may make when it sets no max_github_writes. */
export const DEFAULT_MAX_GITHUB_WRITES = 20;

export class GitHubWrites {
  #made = 0;

  constructor(readonly max: number) {}

  get made(): number {
    return this.#made;
  }

  /**
   * Counts `count` writes about to be sent, or refuses them all (a ToolError the model reads) when
   * they would take the run past its cap.
   */
  take(what: string, count = 1): void {
    if (this.#made + count > this.max) {
      const left = this.max - this.#made;
      const made = left === 0 ? `has made its ${this.max} GitHub writes` : `has ${left} of its ${this.max} GitHub writes left and ${what} needs ${count}`;
      throw new ToolError(`this run ${made} (max_github_writes), so ${what} was not sent; finish without it and say in your outcome what is left to do`);
    }
    this.#made += count;
  }
}
