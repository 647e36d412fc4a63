// A pull request's review threads as the feedback signals read them: for each, whether it is
// resolved, and its first comment with the commit it was made on and its reactions.
import type { Octokit } from "../config/read-config-file.js";
import type { RepositoryId } from "../run-request.js";

export interface FindingThread {
  isResolved: boolean;
  comments: {
    nodes: Array<{
      databaseId: number;
      body: string;
      createdAt: string;
      author: { login: string } | null;
      /** Null when GitHub no longer has the commit. */
      originalCommit: { oid: string } | null;
      reactions: { nodes: Array<{ content: string; user: { login: string } | null }> };
    }>;
  };
}

const THREADS = `query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 50, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes {
          isResolved
          comments(first: 1) { nodes { databaseId body createdAt author { login } originalCommit { oid } reactions(first: 100) { nodes { content user { login } } } } }
        }
      }
    }
  }
}`;

/** Pages read at most: 500 threads, far more than review routines leave on one pull request. */
const MAX_PAGES = 10;

interface ThreadsPage {
  repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: FindingThread[] } } | null } | null;
}

export async function listFindingThreads(octokit: Octokit, repository: RepositoryId, number: number): Promise<FindingThread[]> {
  const threads: FindingThread[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data: ThreadsPage = await octokit.graphql<ThreadsPage>(THREADS, { owner: repository.owner, name: repository.repo, number, cursor });
    const connection = data.repository?.pullRequest?.reviewThreads;
    if (!connection) throw new Error(`GitHub has no pull request ${repository.owner}/${repository.repo}#${number}`);
    threads.push(...connection.nodes);
    if (!connection.pageInfo.hasNextPage) break;
    cursor = connection.pageInfo.endCursor;
  }
  return threads;
}
