// The facts of a pull_request, release, issues, workflow_run or deployment_status event that
// triggers filter on, read from its payload.
// Payloads are checked for the fields used, so a malformed one gets a message, not a crash.
import { z } from "zod";
import type { GithubEventName } from "../config/schema.js";
import type { DeploymentContext, IssueContext, PullRequestContext, ReleaseContext, WorkflowRunContext } from "../run-request.js";

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

const Repository = z.object({ full_name: z.string() });

export const IssuesEvent = z.object({
  action: z.string(),
  issue: z.object({
    number: z.number(),
    title: z.string(),
    body: z.string().nullable().optional(),
    user: Login,
    labels: z.array(z.object({ name: z.string() })).optional(),
    html_url: z.string(),
  }),
  sender: Sender,
});

export const WorkflowRunEvent = z.object({
  action: z.string(),
  // The workflow object names the workflow; workflow_run.name is the same name, kept for payloads without it.
  workflow: z.object({ name: z.string() }).nullable().optional(),
  workflow_run: z.object({
    id: z.number(),
    name: z.string().nullable().optional(),
    event: z.string(),
    status: z.string().nullable(),
    conclusion: z.string().nullable(),
    head_sha: z.string(),
    head_branch: z.string().nullable(),
    html_url: z.string(),
    pull_requests: z.array(z.object({ number: z.number() })),
    head_repository: Repository.nullable().optional(),
  }),
  repository: Repository,
  sender: Sender,
});

export const DeploymentStatusEvent = z.object({
  action: z.string(),
  deployment_status: z.object({
    state: z.string(),
    environment_url: z.string().nullable().optional(),
    target_url: z.string().nullable().optional(),
    log_url: z.string().nullable().optional(),
  }),
  deployment: z.object({
    id: z.number(),
    sha: z.string(),
    ref: z.string(),
    environment: z.string(),
  }),
  sender: Sender,
});

export type EventName = GithubEventName;
type TextFilter = "author" | "title" | "body" | "base_branch" | "head_branch" | "tag" | "target_branch" | "workflow" | "conclusion" | "branch" | "environment" | "state";

export interface EventFacts {
  event: EventName;
  action: string;
  sender: { login: string; type: string };
  /** Text values that string filters read, by filter name. */
  text: Partial<Record<TextFilter, string>>;
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
  issue?: IssueContext;
  workflowRun?: WorkflowRunContext;
  deployment?: DeploymentContext;
  /**
   * The repository a workflow run's commit comes from when it is not the event's own (a fork's
   * pull request): such runs never fire, since the run would check out someone else's code.
   */
  foreignHead?: string;
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

function parse<T>(schema: z.ZodType<T>, event: EventName, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw payloadError(event, parsed.error);
  return parsed.data;
}

/** A URL given as an empty string is no URL. */
const present = (url: string | null | undefined) => (url ? url : undefined);

export function eventFacts(event: EventName, payload: unknown): EventFacts {
  switch (event) {
    case "pull_request": {
      const { action, sender, pull_request: pr } = parse(PullRequestEvent, event, payload);
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
    case "release": {
      const { action, sender, release } = parse(ReleaseEvent, event, payload);
      return {
        event,
        action,
        sender,
        text: { author: release.author.login, title: release.name ?? "", body: release.body ?? "", tag: release.tag_name, target_branch: release.target_commitish },
        release: { tag: release.tag_name, name: release.name ?? "", body: release.body ?? "", targetBranch: release.target_commitish },
      };
    }
    case "issues": {
      const { action, sender, issue } = parse(IssuesEvent, event, payload);
      const labels = (issue.labels ?? []).map((label) => label.name);
      return {
        event,
        action,
        sender,
        text: { author: issue.user.login, title: issue.title, body: issue.body ?? "" },
        labels,
        issue: { number: issue.number, title: issue.title, body: issue.body ?? "", author: issue.user.login, labels, url: issue.html_url },
      };
    }
    case "workflow_run": {
      const { action, sender, workflow, workflow_run: run, repository } = parse(WorkflowRunEvent, event, payload);
      const name = workflow?.name ?? run.name ?? "";
      const head = run.head_repository?.full_name;
      return {
        event,
        action,
        sender,
        text: { workflow: name, conclusion: run.conclusion ?? "", branch: run.head_branch ?? "" },
        workflowRun: {
          id: run.id,
          workflow: name,
          event: run.event,
          status: run.status ?? "",
          conclusion: run.conclusion,
          headSha: run.head_sha,
          headBranch: run.head_branch,
          url: run.html_url,
          pullRequests: run.pull_requests.map((pull) => pull.number),
        },
        ...(head !== undefined && head.toLowerCase() !== repository.full_name.toLowerCase() ? { foreignHead: head } : {}),
      };
    }
    case "deployment_status": {
      const { action, sender, deployment, deployment_status: status } = parse(DeploymentStatusEvent, event, payload);
      const url = present(status.environment_url) ?? present(status.target_url);
      const logUrl = present(status.log_url);
      return {
        event,
        action,
        sender,
        text: { environment: deployment.environment, state: status.state },
        deployment: {
          id: deployment.id,
          environment: deployment.environment,
          state: status.state,
          sha: deployment.sha,
          ref: deployment.ref,
          ...(url ? { url } : {}),
          ...(logUrl && logUrl !== url ? { logUrl } : {}),
        },
      };
    }
  }
}

function payloadError(event: EventName, error: z.ZodError): PayloadError {
  const issue = error.issues[0]!;
  return new PayloadError(`not a payload of the ${event} event: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}
