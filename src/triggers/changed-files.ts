// The changed files of a pull request, for paths filters: they are not in the webhook payload, so
// they are read from GitHub once per event, and only when a trigger of the file asks for them.
import type { Octokit, RepositoryRef } from "../config/read-config-file.js";

/** GitHub lists at most this many files of a pull request. */
export const MAX_LISTED_FILES = 3000;

export async function readChangedFiles(octokit: Octokit, repository: RepositoryRef, number: number): Promise<{ paths: string[]; complete: boolean }> {
  const paths: string[] = [];
  for await (const { data } of octokit.paginate.iterator(octokit.rest.pulls.listFiles, { ...repository, pull_number: number, per_page: 100 })) {
    // A renamed file changes both its old and its new path.
    for (const file of data) paths.push(file.filename, ...(file.previous_filename ? [file.previous_filename] : []));
    if (paths.length >= MAX_LISTED_FILES) return { paths, complete: false };
  }
  return { paths, complete: true };
}
