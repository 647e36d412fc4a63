// The routines of each repository's default branch, read once and kept until a push to the
// default branch changes .claude/ (see github/config-changes.ts); then the next load asks GitHub
// with the file's ETag and keeps the parsed routines when the file did not change. A repository
// without the file is remembered too, so it costs no calls until a push adds one.
import { readConfigFile, type Octokit, type RepositoryRef } from "./read-config-file.js";
import { validateInThread, type RoutinesConfig, type ValidateConfig, type ValidateOptions } from "./validate.js";

export type RepositoryRoutines = { found: false } | ({ found: true; sha: string } & RoutinesConfig);

interface Entry {
  routines: Promise<RepositoryRoutines>;
  etag?: string;
  stale: boolean;
}

const keyOf = ({ owner, repo }: RepositoryRef) => `${owner}/${repo}`.toLowerCase();

export class RoutinesCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly validateOptions: () => ValidateOptions = () => ({}),
    /** The server validates off the event loop (validate-off-thread.ts). */
    private readonly validate: ValidateConfig = validateInThread,
  ) {}

  load(octokit: Octokit, repository: RepositoryRef): Promise<RepositoryRoutines> {
    const key = keyOf(repository);
    const previous = this.#entries.get(key);
    if (previous && !previous.stale) return previous.routines;
    const entry: Entry = { routines: Promise.resolve({ found: false }), stale: false };
    entry.routines = this.#read(octokit, repository, entry, previous);
    this.#entries.set(key, entry);
    // A failed read is not remembered: the next event tries again.
    entry.routines.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.routines;
  }

  /** The next load asks GitHub again. */
  invalidate(repository: RepositoryRef): void {
    const entry = this.#entries.get(keyOf(repository));
    if (entry) entry.stale = true;
  }

  /** The next load of every repository asks GitHub again (with its ETag, so unchanged files cost no rate limit). */
  invalidateAll(): void {
    for (const entry of this.#entries.values()) entry.stale = true;
  }

  async #read(octokit: Octokit, repository: RepositoryRef, entry: Entry, previous?: Entry): Promise<RepositoryRoutines> {
    const file = await readConfigFile(octokit, repository, { etag: previous?.etag });
    if (!file.found) return file;
    if (!("source" in file)) {
      // Not modified: only asked with the ETag of a previous read, which is kept.
      entry.etag = previous?.etag;
      return previous!.routines;
    }
    entry.etag = file.etag;
    return { found: true, sha: file.sha, ...(await this.validate(file.source, this.validateOptions())) };
  }
}
