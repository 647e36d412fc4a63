// A pull request's review threads as the feedback signals read them: for each, whether it is
// resolved, and its first comment with the commit it was made on and its reactions.
import type { Octokit } from "../config/read-config-file.js";
import type { RepositoryId } from "../run-request.js";
import { readReviewThreads } from "../session/review-threads.js";

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

const THREAD_FIELDS = `isResolved
  comments(first: 1) { nodes { databaseId body createdAt author { login } originalCommit { oid } reactions(first: 100) { nodes { content user { login } } } } }`;

export async function listFindingThreads(octokit: Octokit, repository: RepositoryId, number: number): Promise<FindingThread[]> {
  const threads = await readReviewThreads<FindingThread>(octokit, repository, number, THREAD_FIELDS);
  if (!threads) throw new Error(`GitHub has no pull request ${repository.owner}/${repository.repo}#${number}`);
  return threads;
}
