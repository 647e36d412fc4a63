// Sends slash commands' reactions and replies from the store's outbox to GitHub: in order per issue
// or pull request, each once (a comment whose answer was lost is looked up by its hidden marker
// before it is created again), retried with backoff when GitHub or the network fails, and resumed
// after a restart from whatever the store still holds.
import { createHash } from "node:crypto";
import type { Octokit } from "../config/read-config-file.js";
import type { ItemClaim, PendingReply, RunStore } from "../runs/store.js";
import { Outbox, type OutboxOptions } from "./outbox.js";
import { retryAt, type RetryPolicy } from "./write-retry.js";

type CommentReply = PendingReply & { write: { kind: "comment" } };
type ReactionReply = PendingReply & { write: { kind: "reaction" } };

/** GitHub's issue comments and reactions as the outbox uses them. */
export interface RepliesApi {
  react(reply: ReactionReply): Promise<void>;
  /** Whether the app's reaction is already on the comment (an earlier attempt's). */
  hasReaction(reply: ReactionReply): Promise<boolean>;
  /** Creates the comment with `body` (the reply's text and its marker). */
  comment(reply: CommentReply, body: string): Promise<void>;
  /** Whether the issue already has a comment containing `marker` (an earlier creation's). */
  hasComment(reply: CommentReply, marker: string): Promise<boolean>;
}

/** The outbox retries itself: a creation that GitHub applied before failing must be looked up, not sent again. */
const request = { retries: 0 };

/** Issue comments and reactions through the installation's client; `appLogin` names the app's own reactions. */
export function repliesApi(clientFor: (installationId: number) => Promise<Octokit>, appLogin: () => Promise<string>): RepliesApi {
  return {
    async react({ installationId, repository, write }) {
      const octokit = await clientFor(installationId);
      await octokit.rest.reactions.createForIssueComment({ ...repository, comment_id: write.commentId, content: write.content, request });
    },
    async hasReaction({ installationId, repository, write }) {
      const octokit = await clientFor(installationId);
      const login = await appLogin();
      const pages = octokit.paginate.iterator(octokit.rest.reactions.listForIssueComment, { ...repository, comment_id: write.commentId, content: write.content, per_page: 100, request });
      for await (const { data } of pages) {
        if (data.some((reaction) => reaction.user?.login === login)) return true;
      }
      return false;
    },
    async comment({ installationId, repository, issueNumber }, body) {
      const octokit = await clientFor(installationId);
      await octokit.rest.issues.createComment({ ...repository, issue_number: issueNumber, body, request });
    },
    async hasComment({ installationId, repository, issueNumber }, marker) {
      const octokit = await clientFor(installationId);
      const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { ...repository, issue_number: issueNumber, per_page: 100, request });
      for await (const { data } of pages) {
        if (data.some((comment) => comment.body?.includes(marker))) return true;
      }
      return false;
    },
  };
}

/** The hidden line that names a reply on GitHub, so a creation whose answer was lost is found. */
export function replyMarker(key: string): string {
  return `<!-- routines:reply:${createHash("sha256").update(key).digest("hex").slice(0, 24)} -->`;
}

export interface ReplyOutboxOptions extends RetryPolicy, OutboxOptions {
  /** How long a sent reply's key is kept: as long as its delivery may be handled again. */
  keepMs?: number;
  /** A write failed; `retrying` says whether the reply is tried again or given up. */
  onError?: (error: unknown, failed: { reply?: PendingReply; retrying: boolean }) => void;
}

const HOUR = 3_600_000;
const issueOf = ({ repository, issueNumber }: PendingReply) => `${repository.owner}/${repository.repo}#${issueNumber}`.toLowerCase();

export class ReplyOutbox extends Outbox<PendingReply> {
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RunStore,
    private readonly api: RepliesApi,
    private readonly options: ReplyOutboxOptions = {},
  ) {
    super(options, { store, queue: "replies" });
  }

  /** Sends what the store holds and from now on what is recorded; sent replies are pruned after keepMs. */
  override start(): void {
    super.start();
    if (this.options.keepMs !== undefined) {
      void this.#prune(this.options.keepMs);
      this.#pruneTimer = setInterval(() => void this.#prune(this.options.keepMs!), HOUR).unref();
    }
  }

  override async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    await super.stop();
  }

  protected due(now: Date, limit: number): Promise<PendingReply[]> {
    return this.store.pendingReplies(now, limit);
  }

  protected claim(now: Date, limit: number, claim: ItemClaim): Promise<PendingReply[]> {
    return this.store.claimReplies(now, limit, claim);
  }

  protected keyOf(item: PendingReply): string {
    return item.key;
  }

  /** One reply at a time on an issue, so they arrive in order. */
  protected laneOf(reply: PendingReply): string {
    return issueOf(reply);
  }

  protected lookFailed(error: unknown): void {
    this.options.onError?.(error, { retrying: true });
  }

  async #prune(keepMs: number): Promise<void> {
    try {
      await this.store.pruneReplies(new Date(this.now().getTime() - keepMs));
    } catch (error) {
      this.options.onError?.(error, { retrying: true });
    }
  }

  protected async send(reply: PendingReply): Promise<void> {
    try {
      if (reply.write.kind === "reaction") {
        const reaction = reply as ReactionReply;
        // The process stopped, or GitHub failed, after the reaction was sent: GitHub may have it.
        if (!(reply.creating && (await this.api.hasReaction(reaction)))) {
          await this.store.markReplyCreating(reply.key);
          await this.api.react(reaction);
        }
      } else {
        const comment = reply as CommentReply;
        const marker = replyMarker(reply.key);
        if (!(reply.creating && (await this.api.hasComment(comment, marker)))) {
          await this.store.markReplyCreating(reply.key);
          await this.api.comment(comment, `${comment.write.body}\n\n${marker}`);
        }
      }
      await this.store.markReplyDone(reply.key, this.now(), "sent");
    } catch (error) {
      const again = retryAt(error, reply.attempts, this.options, this.now());
      this.options.onError?.(error, { reply, retrying: again !== undefined });
      if (again) await this.store.markReplyFailed(reply.key, again);
      // Given up: the replies after it on the issue go on.
      else await this.store.markReplyDone(reply.key, this.now(), "abandoned");
    }
  }
}
