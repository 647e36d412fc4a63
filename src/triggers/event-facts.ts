// The facts of a pull_request or release event that triggers filter on, read from its payload.
// Payloads are checked for the fields used, so a malformed one gets a message, not a crash.
import { z } from "zod";
import type { PullRequestContext, ReleaseContext } from "../run-request.js";

const Login = z.object({ login: z.string() });
const Sender = z.object({ login: z.string(), type: z.string() });

export const PullRequestEvent = z.object({
  action: z.string(),
  pull_request: z.object({
    number: z.number(),
    title: z.string(),
    body: z.string().nullable().optional(),
    user: Login,
    draft: z.boolean().optional(),
    merged: z.boolean().nullable().optional(),
    labels: z.array(z.object({ name: z.string() })).optional(),
    base: z.object({ ref: z.string(), sha: z.string(), repo: z.object({ full_name: z.string() }) }),
    head: z.object({ ref: z.string(), sha: z.string(), repo: z.object({ full_name: z.string() }).nullable() }),
  }),
  sender: Sender,
});

export const ReleaseEvent = z.object({
  action: z.string(),
  release: z.object({
    tag_name: z.string(),
    name: z.string().nullable().optional(),
    body: z.string().nullable().optional(),
    target_commitish: z.string(),
    author: Login,
  }),
  sender: Sender,
});

export type EventName = "pull_request" | "release";

export interface EventFacts {
  event: EventName;
  action: string;
  sender: { login: string; type: string };
  /** Text values that string filters read, by filter name. */
  text: Partial<Record<"author" | "title" | "body" | "base_branch" | "head_branch" | "tag" | "target_branch", string>>;
  labels?: string[];
  draft?: boolean;
  merged?: boolean;
  /**
   * A pull request's changed files, for paths filters: read only when a trigger has them (they
   * are not in the payload). `complete` is false when the pull request has more than were read.
   */
  changedFiles?: { paths: string[]; complete: boolean };
  /** What a session needs to know of the pull request or release. */
  pullRequest?: PullRequestContext;
  release?: ReleaseContext;
}

/** The head repository of a pull request from a fork ("unknown" once the fork is deleted), else undefined. */
export function forkOf(head: { full_name: string } | null, base: { full_name: string }): string | undefined {
  return head?.full_name === base.full_name ? undefined : (head?.full_name ?? "unknown");
}

interface PullRequestFields {
  number: number;
  title: string;
  user: { login: string };
  head: { ref: string; sha: string; repo: { full_name: string } | null };
  base: { ref: string; repo: { full_name: string } };
}

/** What a session needs to know of a pull request, from a payload or an API answer. */
export function pullRequestContextOf(pr: PullRequestFields): PullRequestContext {
  const fork = forkOf(pr.head.repo, pr.base.repo);
  return {
    number: pr.number,
    headSha: pr.head.sha,
    headRef: pr.head.ref,
    baseRef: pr.base.ref,
    title: pr.title,
    author: pr.user.login,
    ...(fork === undefined ? {} : { fork }),
  };
}

export class PayloadError extends Error {
  override name = "PayloadError";
}

export function eventFacts(event: EventName, payload: unknown): EventFacts {
  if (event === "pull_request") {
    const parsed = PullRequestEvent.safeParse(payload);
    if (!parsed.success) throw payloadError(event, parsed.error);
    const { action, sender, pull_request: pr } = parsed.data;
    return {
      event,
      action,
      sender,
      text: { author: pr.user.login, title: pr.title, body: pr.body ?? "", base_branch: pr.base.ref, head_branch: pr.head.ref },
      labels: (pr.labels ?? []).map((label) => label.name),
      draft: pr.draft ?? false,
      merged: pr.merged ?? false,
      pullRequest: pullRequestContextOf(pr),
    };
  }
  const parsed = ReleaseEvent.safeParse(payload);
  if (!parsed.success) throw payloadError(event, parsed.error);
  const { action, sender, release } = parsed.data;
  return {
    event,
    action,
    sender,
    text: { author: release.author.login, title: release.name ?? "", body: release.body ?? "", tag: release.tag_name, target_branch: release.target_commitish },
    release: { tag: release.tag_name, name: release.name ?? "", body: release.body ?? "", targetBranch: release.target_commitish },
  };
}

function payloadError(event: EventName, error: z.ZodError): PayloadError {
  const issue = error.issues[0]!;
  return new PayloadError(`not a ${event} payload: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}
