// Reads .claude/routines.yml from a repository through the contents API.
import type { ProbotOctokit } from "probot";

export const CONFIG_PATH = ".claude/routines.yml";
/** Larger files are refused rather than parsed: no real routines file comes near this. */
export const MAX_CONFIG_BYTES = 512 * 1024;

export type Octokit = InstanceType<typeof ProbotOctokit>;

export interface RepositoryRef {
  owner: string;
  repo: string;
}

export type ConfigFile =
  | { found: false }
  | { found: true; sha: string; source: string; etag?: string }
  /** Unchanged since the read whose ETag was given. */
  | { found: true; notModified: true };

export class ConfigReadError extends Error {
  override name = "ConfigReadError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * The file at `ref`, or on the default branch when `ref` is omitted. With the `etag` of an earlier
 * read the request is conditional: GitHub answers 304, free of rate limit, when nothing changed.
 */
export async function readConfigFile(
  octokit: Octokit,
  { owner, repo }: RepositoryRef,
  { ref, etag }: { ref?: string; etag?: string } = {},
): Promise<ConfigFile> {
  const where = `${owner}/${repo}${ref ? `@${ref}` : ""}`;
  let response;
  try {
    response = await octokit.rest.repos.getContent({
      owner,
      repo,
      path: CONFIG_PATH,
      ...(ref ? { ref } : {}),
      ...(etag ? { headers: { "if-none-match": etag } } : {}),
    });
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 304) return { found: true, notModified: true };
    if (status === 404) return { found: false };
    throw new ConfigReadError(`cannot read ${CONFIG_PATH} from ${where}: ${(error as Error).message}`, status);
  }
  const { data } = response;
  const file = data as { type?: string; sha?: string; size?: number; encoding?: string; content?: string };
  if (Array.isArray(data) || file.type !== "file" || !file.sha) {
    throw new ConfigReadError(`${CONFIG_PATH} in ${where} is not a file`);
  }
  if ((file.size ?? 0) > MAX_CONFIG_BYTES || file.encoding !== "base64") {
    throw new ConfigReadError(`${CONFIG_PATH} in ${where} is ${file.size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
  }
  const source = Buffer.from(file.content ?? "", "base64").toString("utf8");
  return { found: true, sha: file.sha, source, ...(response.headers.etag ? { etag: response.headers.etag } : {}) };
}
