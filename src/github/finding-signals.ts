// What became of the findings routines post as inline review comments, read on the pull
// request's later events: whether a finding's thread was resolved, whether later commits changed
// its lines before the merge, and its 👍/👎 reactions. The dashboard shows per routine the share of
// findings on merged pull requests that were addressed (resolved, or lines changed) before the merge.
//
// Findings are read back from GitHub, not told by the run that posted them: the first comment of a
// review thread by the app's bot that carries a routine's finding mark. Anyone can copy a mark into
// a comment of their own; such a comment is not the bot's and is never counted.
//
// This runs after the webhook was acknowledged (the inbox's handlers), only on pull requests where
// a routine ran, and never fails the delivery: what GitHub does not answer stays unknown.
import type { Octokit } from "../config/read-config-file.js";
import type { RepositoryId } from "../run-request.js";
import { FINDING } from "../session/github-run.js";
import type { RunStore, StoredFinding } from "../runs/store.js";
import { linesChanged, type ChangedFileData } from "./finding-lines.js";
import { listFindingThreads, type FindingThread } from "./finding-threads.js";

export type FindingStore = Pick<RunStore, "ranOnPullRequest" | "recordFinding" | "updateFindingSignals" | "markFindingsMerged" | "pullRequestFindings">;

export interface FindingSignalsOptions {
  store: FindingStore;
  /** The installation's client; its GraphQL reads go in a lane of their own (see installationClientInLane). */
  clientFor(installationId: number): Promise<Octokit>;
  /** The app's bot login, as REST names it (`<slug>[bot]`). */
  appLogin(): Promise<string>;
  log: { warn(details: object, message: string): void };
}

/** The fields of a pull_request event read here. */
export interface PullRequestEvent {
  action: string;
  installation?: { id: number };
  repository: { name: string; owner: { login: string } };
  pull_request: { number: number; merged?: boolean | null; merged_at?: string | null; head: { sha: string } };
}

/** The fields of a pull_request_review_thread event read here. */
export interface ReviewThreadEvent {
  action: string;
  repository: { name: string; owner: { login: string } };
  thread: { comments: Array<{ id: number }> };
}

const repositoryOf = (payload: { repository: { name: string; owner: { login: string } } }): RepositoryId => ({ owner: payload.repository.owner.login, repo: payload.repository.name });

/** Whether `login` (GraphQL names a bot without "[bot]") is the app's bot `bot`. */
const isBot = (login: string | undefined, bot: string) => login !== undefined && (login === bot || `${login}[bot]` === bot);

export class FindingSignals {
  readonly #options: FindingSignalsOptions;

  constructor(options: FindingSignalsOptions) {
    this.#options = options;
  }

  /** synchronize: reads the findings and what the push did to their lines; closed and merged: the same, and records the merge. */
  async onPullRequest(payload: PullRequestEvent): Promise<void> {
    const merged = payload.action === "closed" && payload.pull_request.merged === true;
    if (payload.action !== "synchronize" && !merged) return;
    const installationId = payload.installation?.id;
    if (installationId === undefined) return;
    const repository = repositoryOf(payload);
    const { number, head } = payload.pull_request;
    const details = { repository: `${repository.owner}/${repository.repo}`, pull: number };
    try {
      if (!(await this.#options.store.ranOnPullRequest(repository, number))) return;
      const octokit = await this.#options.clientFor(installationId);
      await this.#readThreads(octokit, installationId, repository, number, details);
      await this.#readLines(octokit, repository, number, head.sha, details);
      if (merged) await this.#options.store.markFindingsMerged(repository, number, new Date(payload.pull_request.merged_at ?? Date.now()));
    } catch (error) {
      this.#options.log.warn({ ...details, err: error }, "the findings' signals could not be recorded; they stay as they were");
    }
  }

  /** resolved / unresolved: the thread's first comment names the finding, when it is one recorded. */
  async onReviewThread(payload: ReviewThreadEvent): Promise<void> {
    if (payload.action !== "resolved" && payload.action !== "unresolved") return;
    const first = payload.thread.comments[0];
    if (!first) return;
    try {
      await this.#options.store.updateFindingSignals(repositoryOf(payload), first.id, { resolved: payload.action === "resolved" });
    } catch (error) {
      this.#options.log.warn({ err: error, comment: first.id }, "a review thread's state could not be recorded");
    }
  }

  /** Records the routines' findings among the threads, whether each is resolved, and its reactions. */
  async #readThreads(octokit: Octokit, installationId: number, repository: RepositoryId, number: number, details: object): Promise<void> {
    let threads: FindingThread[];
    let bot: string;
    try {
      bot = await this.#options.appLogin();
      threads = await listFindingThreads(octokit, repository, number);
    } catch (error) {
      this.#options.log.warn({ ...details, err: error }, "the pull request's review threads could not be read; their findings' state stays unknown");
      return;
    }
    const { store } = this.#options;
    for (const thread of threads) {
      const first = thread.comments.nodes[0];
      const mark = first && isBot(first.author?.login, bot) ? FINDING.exec(first.body) : null;
      if (!first || !mark) continue;
      const [, , routine, path, side, start, end] = mark;
      await store.recordFinding({
        repository,
        installationId,
        pullNumber: number,
        routine: routine!,
        commentId: first.databaseId,
        path: decodeURIComponent(path!),
        side: side as "LEFT" | "RIGHT",
        startLine: Number(start),
        endLine: Number(end),
        headSha: first.originalCommit?.oid ?? "",
        postedAt: new Date(first.createdAt),
      });
      const reactions = first.reactions.nodes.filter((reaction) => !isBot(reaction.user?.login, bot));
      await store.updateFindingSignals(repository, first.databaseId, {
        resolved: thread.isResolved,
        thumbsUp: reactions.filter((reaction) => reaction.content === "THUMBS_UP").length,
        thumbsDown: reactions.filter((reaction) => reaction.content === "THUMBS_DOWN").length,
      });
    }
  }

  /**
   * For each finding whose lines are not yet known to have changed: compares the commit it was
   * posted on with the head. Once changed, they stay changed: a later revert does not undo that
   * the finding was acted on.
   */
  async #readLines(octokit: Octokit, repository: RepositoryId, number: number, head: string, details: object): Promise<void> {
    const findings = (await this.#options.store.pullRequestFindings(repository, number)).filter((finding) => finding.linesChanged !== true);
    const byCommit = new Map<string, StoredFinding[]>();
    for (const finding of findings) byCommit.set(finding.headSha, [...(byCommit.get(finding.headSha) ?? []), finding]);
    for (const [commit, posted] of byCommit) {
      const files = commit === "" ? undefined : commit === head ? [] : await this.#changedSince(octokit, repository, commit, head, details);
      for (const finding of posted) {
        // A finding on removed lines (the diff's left side) is about the base: only its thread tells.
        const changed = finding.side === "LEFT" ? false : files && linesChanged(files, finding.path, finding.startLine, finding.endLine);
        if (changed !== undefined) await this.#options.store.updateFindingSignals(repository, finding.commentId, { linesChanged: changed });
      }
    }
  }

  /** The files changed from `commit` to `head`; undefined when the head does not descend from it (a force-push) or GitHub did not answer. */
  async #changedSince(octokit: Octokit, repository: RepositoryId, commit: string, head: string, details: object): Promise<ChangedFileData[] | undefined> {
    try {
      const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ ...repository, basehead: `${commit}...${head}`, per_page: 100 });
      if (data.status === "identical") return [];
      if (data.status !== "ahead") return undefined;
      // GitHub lists at most 300 files in a compare; past that, what is not listed is not known.
      if ((data.files?.length ?? 0) >= 300) return undefined;
      return (data.files ?? []).map((file) => ({ filename: file.filename, status: file.status, ...(file.previous_filename ? { previous_filename: file.previous_filename } : {}), ...(file.patch ? { patch: file.patch } : {}) }));
    } catch (error) {
      this.#options.log.warn({ ...details, err: error, commit }, "what changed since a finding was posted could not be read; whether its lines changed stays unknown");
      return undefined;
    }
  }
}
