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

/** Which trigger fired, with what a session, a reader of the run, and deduplication need. */
export type TriggerDetails =
  | { kind: "github"; index: number; event: "pull_request" | "release"; action: string; deliveryId: string; sender: string }
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
    /** Text from a slash command or an API call: untrusted input, appended to the prompt as such. */
    extraInstructions?: string;
    /** Runs for fork pull requests never get secrets. */
    withoutSecrets: boolean;
    /** Names of the secrets the routine's environment needs, checked at admission. */
    requiredSecrets?: string[];
  };
}

/**
 * Whether the run works on a pull request from a fork: code and text from someone who may have no
 * write access. Such a run reads and reviews; it gets no secrets and writes nothing but comments.
 */
export const fromFork = (request: Pick<RunRequest, "context">): boolean => request.context.pullRequest?.fork !== undefined;

/** Tokens a session used, by kind. */
export interface TokenUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
}
