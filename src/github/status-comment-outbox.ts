// Publishes status comments from the store's outbox to GitHub: per comment only the newest text
// (an older one is never sent after a newer one), retried with backoff when GitHub or the network
// fails, and resumed after a restart from whatever the store still holds. A comment the store
// does not know yet (the first run, a creation whose answer was lost, a store started afresh) is
// looked for by its hidden marker among the app's own comments before one is created.
import type { Octokit } from "../config/read-config-file.js";
import type { ItemClaim, PendingStatusComment, RunStore } from "../runs/store.js";
import { Outbox, type OutboxOptions } from "./outbox.js";
import { statusMarker } from "./status-comment-text.js";
import { retryAt, type RetryPolicy } from "./write-retry.js";

/** GitHub's issue comments as the status comments use them. */
export interface StatusCommentsApi {
  /** Creates the comment; returns its id. */
  create(comment: PendingStatusComment): Promise<number>;
  /** Edits the comment; throws with status 404 when it is gone. */
  update(comment: PendingStatusComment, commentId: number): Promise<void>;
  /** The app's own comment on the pull request that holds `marker`, when there is one. */
  find(comment: PendingStatusComment, marker: string): Promise<number | undefined>;
}

/** The outbox retries itself: a creation that GitHub applied before failing must be looked up, not sent again. */
const request = { retries: 0 };

/** Issue comments through the installation's client; `appLogin` names the app's own comments. */
export function statusCommentsApi(clientFor: (installationId: number) => Promise<Octokit>, appLogin: () => Promise<string>): StatusCommentsApi {
  return {
    async create({ installationId, repository, issueNumber, body }) {
      const octokit = await clientFor(installationId);
      const { data } = await octokit.rest.issues.createComment({ ...repository, issue_number: issueNumber, body, request });
      return data.id;
    },
    async update({ installationId, repository, body }, commentId) {
      const octokit = await clientFor(installationId);
      await octokit.rest.issues.updateComment({ ...repository, comment_id: commentId, body, request });
    },
    async find({ installationId, repository, issueNumber }, marker) {
      const octokit = await clientFor(installationId);
      const login = await appLogin();
      const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { ...repository, issue_number: issueNumber, per_page: 100, request });
      // Only the app's own: anyone may paste the marker into a comment, and the app cannot edit theirs.
      for await (const { data } of pages) {
        const found = data.find((comment) => comment.user?.login === login && comment.body?.includes(marker));
        if (found) return found.id;
      }
      return undefined;
    },
  };
}

export interface StatusCommentOutboxOptions extends RetryPolicy, OutboxOptions {
  /** A write failed; `retrying` says whether the text is tried again or given up. */
  onError?: (error: unknown, failed: { comment?: PendingStatusComment; retrying: boolean }) => void;
}

const gone = (error: unknown) => (error as { status?: unknown }).status === 404;

export class StatusCommentOutbox extends Outbox<PendingStatusComment> {
  constructor(
    private readonly store: RunStore,
    private readonly api: StatusCommentsApi,
    private readonly options: StatusCommentOutboxOptions = {},
  ) {
    super(options, { store, queue: "status_comments" });
  }

  protected due(now: Date, limit: number): Promise<PendingStatusComment[]> {
    return this.store.pendingStatusComments(now, limit);
  }

  protected claim(now: Date, limit: number, claim: ItemClaim): Promise<PendingStatusComment[]> {
    return this.store.claimStatusComments(now, limit, claim);
  }

  protected keyOf(item: PendingStatusComment): string {
    return item.key;
  }

  /** Never two writes to the same comment at once. */
  protected laneOf(comment: PendingStatusComment): string {
    return comment.key;
  }

  protected lookFailed(error: unknown): void {
    this.options.onError?.(error, { retrying: true });
  }

  protected async send(comment: PendingStatusComment): Promise<void> {
    try {
      let commentId = comment.commentId ?? (await this.api.find(comment, statusMarker(comment.key)));
      if (commentId !== undefined) {
        // Someone deleted it: the status gets a new one.
        commentId = await this.api.update(comment, commentId).then(
          () => commentId,
          (error: unknown) => {
            if (gone(error)) return undefined;
            throw error;
          },
        );
      }
      commentId ??= await this.api.create(comment);
      await this.store.markStatusCommentPublished(comment.key, comment.version, commentId);
    } catch (error) {
      const again = retryAt(error, comment.attempts, this.options, this.now());
      this.options.onError?.(error, { comment, retrying: again !== undefined });
      if (again) await this.store.markStatusCommentFailed(comment.key, again);
      // Given up: this text is dropped; a newer one is still sent.
      else await this.store.markStatusCommentPublished(comment.key, comment.version, undefined);
    }
  }
}
