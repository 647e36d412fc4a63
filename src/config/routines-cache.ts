// The routines of each repository's default branch, read once and kept until a push to the
// default branch changes .claude/ (see github/config-changes.ts). A repository without the file
// is remembered too, so it costs no calls until a push adds one.
import { readConfigFile, type Octokit, type RepositoryRef } from "./read-config-file.js";
import { validateRoutines, type RoutinesConfig, type ValidateOptions } from "./validate.js";

export type RepositoryRoutines = { found: false } | ({ found: true; sha: string } & RoutinesConfig);

const keyOf = ({ owner, repo }: RepositoryRef) => `${owner}/${repo}`.toLowerCase();

export class RoutinesCache {
  readonly #entries = new Map<string, Promise<RepositoryRoutines>>();

  constructor(private readonly validateOptions: () => ValidateOptions = () => ({})) {}

  load(octokit: Octokit, repository: RepositoryRef): Promise<RepositoryRoutines> {
    const key = keyOf(repository);
    const cached = this.#entries.get(key);
    if (cached) return cached;
    const entry = this.#read(octokit, repository);
    this.#entries.set(key, entry);
    // A failed read is not remembered: the next event tries again.
    entry.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry;
  }

  invalidate(repository: RepositoryRef): void {
    this.#entries.delete(keyOf(repository));
  }

  async #read(octokit: Octokit, repository: RepositoryRef): Promise<RepositoryRoutines> {
    const file = await readConfigFile(octokit, repository);
    if (!file.found) return file;
    return { found: true, sha: file.sha, ...validateRoutines(file.source, this.validateOptions()) };
  }
}
