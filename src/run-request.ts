// The one seam: every trigger produces RunRequests, and everything after admission consumes them.
// A leaf that triggers, the run engine and sessions all read, so no arrow points backwards.

export interface RepositoryId {
  owner: string;
  repo: string;
}

export interface PullRequestContext {
  number: number;
  headSha: string;
  headRef: string;
  baseRef: string;
  title: string;
  author: string;
  /** The head repository when the pull request comes from a fork. */
  fork?: string;
}

export interface ReleaseContext {
  tag: string;
  name: string;
  body: string;
  targetBranch: string;
}

/** An issue that fired an issues trigger, as the event gave it. Its title and body are anyone's words. */
export interface IssueContext {
  number: number;
  title: string;
  body: string;
  author: string;
  labels: string[];
  url: string;
}

/** A workflow run that fired a workflow_run trigger: the run checks out its commit. */
export interface WorkflowRunContext {
  id: number;
  /** The workflow's name. */
  workflow: string;
  /** What started the workflow run (push, pull_request, workflow_dispatch, ...). */
  event: string;
  status: string;
  /** Null until the workflow run is completed. */
  conclusion: string | null;
  headSha: string;
  headBranch: string | null;
  url: string;
  /** The pull requests GitHub lists for the workflow run. */
  pullRequests: number[];
}

/** A deployment status that fired a deployment_status trigger: the run checks out the deployment's commit. */
export interface DeploymentContext {
  id: number;
  environment: string;
  state: string;
  sha: string;
  /** The ref that was deployed (a branch, tag or commit). */
  ref: string;
  /** Where the deployed environment is reached (environment_url, else target_url), when the status gives one. */
  url?: string;
  /** The deployment status's log or details page, when given. */
  logUrl?: string;
}

/** The events a github trigger listens to (the schema's GITHUB_EVENTS). */
export type GithubEvent = "pull_request" | "release" | "issues" | "workflow_run" | "deployment_status";

/** Which trigger fired, with what a session, a reader of the run, and deduplication need. */
export type TriggerDetails =
  | { kind: "github"; index: number; event: GithubEvent; action: string; deliveryId: string; sender: string }
  | { kind: "command"; index: number; deliveryId: string; commentId: number; author: string; issueNumber: number }
  | { kind: "schedule"; index: number; scheduledFor: string; oneOff: boolean }
  | { kind: "api"; index: number; triggerId: string }
  /** "Run now" in the dashboard, by a user with write permission. */
  | { kind: "manual"; user: string };

export interface RunRequest {
  routine: string;
  repository: RepositoryId;
  installationId: number;
  /** Blob sha of the routines.yml the routine was read from. */
  configSha: string;
  trigger: TriggerDetails;
  context: {
    pullRequest?: PullRequestContext;
    release?: ReleaseContext;
    issue?: IssueContext;
    workflowRun?: WorkflowRunContext;
    deployment?: DeploymentContext;
    /** Text from a slash command or an API call: untrusted input, appended to the prompt as such. */
    extraInstructions?: string;
    /** Runs for fork pull requests never get secrets. */
    withoutSecrets: boolean;
    /** Names of the secrets the routine's environment needs, checked at admission. */
    requiredSecrets?: string[];
    /** The routine's own daily dollar budget (budget.daily_usd), checked at admission. */
    dailyBudgetUsd?: number;
    /** False when the routine turned its status comment off (status_comment: false). */
    statusComment?: boolean;
  };
}

/** Whether the run keeps its routine's status comment on its pull request: runs on one do, unless the routine said no. */
export const keepsStatusComment = (request: Pick<RunRequest, "context">): boolean =>
  request.context.pullRequest !== undefined && request.context.statusComment !== false;

/**
 * Whether the run works on a pull request from a fork: code and text from someone who may have no
 * write access. Such a run reads and reviews; it gets no secrets and writes nothing but comments.
 */
export const fromFork = (request: Pick<RunRequest, "context">): boolean => request.context.pullRequest?.fork !== undefined;

/** The commit a run is about when it has one: a pull request's head, a workflow run's or a deployment's commit. */
export const commitOf = (request: Pick<RunRequest, "context">): string | undefined =>
  request.context.pullRequest?.headSha ?? request.context.workflowRun?.headSha ?? request.context.deployment?.sha;

/** Tokens a session used, by kind. */
export interface TokenUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
}
