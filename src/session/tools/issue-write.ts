// What the tools that change issues share: where the write goes, and a 404 said in words.
import { fullName } from "../../config/share-with.js";
import { ToolError } from "../define-tool.js";
import { publishingRun, type GitHubRun } from "../github-run.js";

/** The run that writes to `repository` (the own one, or one shared for writing), and its name. */
export function writingRun(own: GitHubRun, repository: string | undefined): { run: GitHubRun; name: string } {
  const run = publishingRun(own, repository);
  return { run, name: fullName(run.repository) };
}

/** GitHub's 404 on an issue, as a message naming it; other errors as they are. */
export function notFound(where: string): (error: unknown) => never {
  return (error) => {
    if ((error as { status?: number }).status === 404) throw new ToolError(`${where} does not exist`);
    throw error;
  };
}
