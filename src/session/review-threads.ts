// A routine's own review threads on a pull request, through GitHub's GraphQL API: REST lists
// review comments but knows neither threads nor whether one is resolved, and cannot resolve one.
import type { Octokit } from "../config/read-config-file.js";
import type { RepositoryId } from "../run-request.js";
import { FINDING, FINGERPRINT } from "./github-run.js";

export interface ThreadComment {
  databaseId: number;
  body: string;
  url: string;
  author: { login: string } | null;
}

/** A review thread as GraphQL's PullRequestReviewThread gives it, with the fields read here. */
export interface ReviewThread {
  id: string;
  isResolved: boolean;
  /** The lines it was made on changed since: GitHub then has no current `line`. */
  isOutdated: boolean;
  path: string;
  line: number | null;
  startLine: number | null;
  originalLine: number | null;
  originalStartLine: number | null;
  diffSide: "LEFT" | "RIGHT";
  comments: { nodes: ThreadComment[] };
}

const THREAD_FIELDS = `id isResolved isOutdated path line startLine originalLine originalStartLine diffSide
  comments(first: 30) { nodes { databaseId body url author { login } } }`;

const RESOLVE = `mutation($threadId: ID!) {
  resolveReviewThread(input: { threadId: $threadId }) { thread { id isResolved } }
}`;

/** Pages of threads read at most: 500 threads, far more than a review routine leaves. */
const MAX_PAGES = 10;

interface ThreadsPage<T> {
  repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: T[] } } | null } | null;
}

/**
 * The pull request's review threads, 50 a page up to MAX_PAGES, each with the GraphQL fields
 * asked for (`T` is their shape); undefined when GitHub has no such pull request.
 */
export async function readReviewThreads<T>(octokit: Octokit, repository: RepositoryId, number: number, fields: string): Promise<T[] | undefined> {
  const query = `query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 50, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { ${fields} }
      }
    }
  }
}`;
  const threads: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data: ThreadsPage<T> = await octokit.graphql<ThreadsPage<T>>(query, { owner: repository.owner, name: repository.repo, number, cursor });
    const connection = data.repository?.pullRequest?.reviewThreads;
    if (!connection) return page === 0 ? undefined : threads;
    threads.push(...connection.nodes);
    if (!connection.pageInfo.hasNextPage) break;
    cursor = connection.pageInfo.endCursor;
  }
  return threads;
}

export async function listReviewThreads(octokit: Octokit, repository: RepositoryId, number: number): Promise<ReviewThread[]> {
  return (await readReviewThreads<ReviewThread>(octokit, repository, number, THREAD_FIELDS)) ?? [];
}

export async function resolveReviewThread(octokit: Octokit, threadId: string): Promise<void> {
  await octokit.graphql(RESOLVE, { threadId });
}

/**
 * Whether the thread is one the routine started: its first comment is by the app's bot (GraphQL
 * names a bot without the "[bot]" that REST adds) and carries the routine's finding mark. The mark
 * alone proves nothing: anyone can copy it into a comment of their own.
 */
export function ownThread(thread: ReviewThread, bot: string, routine: string): boolean {
  const first = thread.comments.nodes[0];
  const login = first?.author?.login;
  if (!first || !login || (login !== bot && `${login}[bot]` !== bot)) return false;
  return FINDING.exec(first.body)?.[2] === routine;
}

/** A comment's text without the app's hidden marks. */
export const withoutMarks = (body: string) => body.replace(new RegExp(FINGERPRINT, "g"), "").trim();
