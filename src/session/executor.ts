// Executes a queued run on the server: a token scoped to the routine's repositories, working
// trees of them, the session with the workspace and GitHub tools, and cleanup whatever happens
// (working trees removed, token revoked).
import { createHash } from "node:crypto";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { environmentOf } from "../config/environment-of.js";
import type { Octokit, RepositoryRef } from "../config/read-config-file.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import { fromFork, type RepositoryId, type RunRequest } from "../run-request.js";
import { SecretGrantError, SecretGrants } from "../config/secret-grants.js";
import { runSecrets } from "./command-env.js";
import type { ConnectorSpec } from "./connectors.js";
import type { ExecutionContext, RunExecutor } from "./execution.js";
import type { GitHubRun } from "./github-run.js";
import { githubTools, reviewTools } from "./github-tools.js";
import type { ChangedFile, PromptInput } from "./prompt.js";
import { createRedactor } from "./redact.js";
import { createRunDirectory } from "./run-directory.js";
import { RunToken } from "./run-token.js";
import { runSession, type SandboxSetting, type SessionResult } from "./run-session.js";
import type { Workspaces } from "./workspace.js";

export interface ExecutorDeps {
  /** The app's own client (JWT), which mints installation tokens. */
  appOctokit(): Promise<Octokit>;
  /** The installation's client, for reading the routines before the run's token exists. */
  installationOctokit(installationId: number): Promise<Octokit>;
  /** A client that authenticates with a given token, or with the token a function returns at each request. */
  octokitForToken(token: string | (() => string)): Octokit;
  /** A refresh of a run's token failed (it is tried again until the token expires). */
  onTokenRefreshError?(error: unknown, runId: string): void;
  /** The commit author of the app's bot account, looked up with the run's client. */
  botAuthor(octokit: Octokit): Promise<{ name: string; email: string }>;
  routines: RoutinesCache;
  workspaces: Workspaces;
  client: Anthropic;
  model: string;
  maxOutputTokens: number;
  /** The secret values the operator grants, and to which repositories; default none. */
  secrets?: SecretGrants;
  /** Every secret the server holds (its keys, every granted value): no run's text shows them. */
  heldSecrets?: readonly string[];
  /** The operator's connectors. */
  serverConnectors?: ConnectorSpec[];
  /** Where setup script results are cached. */
  setupCacheDir?: string;
  /** Whether commands run in a sandbox; see run-session. */
  sandbox?: SandboxSetting;
  /** Where runs' directories are made (swept at start); default: defaultRunsRoot(). */
  runsRoot?: string;
}

export class RunError extends Error {
  override name = "RunError";
}

const repositoryOf = (entry: string, self: RepositoryId): RepositoryId => {
  if (entry === "self") return self;
  const [owner = "", repo = ""] = entry.split("/");
  return { owner, repo };
};

function describeTrigger(run: RunRequest): PromptInput["trigger"] {
  const { trigger } = run;
  switch (trigger.kind) {
    case "github":
      return `${trigger.event}.${trigger.action}`;
    case "command":
      return `a /routine command by ${trigger.author}`;
    case "schedule":
      return `${trigger.oneOff ? "a one-off" : "a"} schedule, for ${trigger.scheduledFor}`;
    case "api":
      return "a call to the routine's API endpoint";
    case "manual":
      return `"Run now" in the dashboard, by ${trigger.user}`;
  }
}

/** Where a run's extra instructions came from, as the prompt names it. */
const UNTRUSTED_SOURCE: Partial<Record<RunRequest["trigger"]["kind"], string>> = { api: "API call", manual: "dashboard" };

export class SessionExecutor implements RunExecutor {
  constructor(private readonly deps: ExecutorDeps) {}

  async execute(run: RunRequest & { id: string }, { signal, record, tokens }: ExecutionContext): Promise<SessionResult> {
    const { deps } = this;
    // The routine's timeout counts from here: minting, checkout and setup take part of it.
    const startedAt = Date.now();
    const app = await deps.appOctokit();
    const config = await deps.routines.load(await deps.installationOctokit(run.installationId), run.repository);
    const routine = config.found ? config.routines[run.routine] : undefined;
    if (!config.found || !routine) throw new RunError(`routine ${run.routine} is no longer defined (or has errors) on the default branch of ${run.repository.owner}/${run.repository.repo}`);

    const environment = environmentOf(routine, config.environments);
    let secrets: Record<string, string>;
    try {
      secrets = runSecrets(environment?.secrets ?? [], run.context.withoutSecrets, deps.secrets ?? new SecretGrants(), run.repository);
    } catch (error) {
      if (error instanceof SecretGrantError) throw new RunError(error.message);
      throw error;
    }

    // A fork's pull request steers this run: it reads, comments and reviews, and writes no code.
    const fork = fromFork(run);
    // A token for this run alone: the routine's repositories, the permissions its tools need.
    const entries = routine.repositories ?? ["self"];
    // "self" first, each repository once.
    const ordered = ["self", ...entries.filter((entry) => entry !== "self")].map((entry) => repositoryOf(entry, run.repository));
    const repositories = [...new Map(ordered.map((r) => [`${r.owner}/${r.repo}`.toLowerCase(), r])).values()];
    const runToken = await RunToken.mint({
      mint: async () => {
        const { data } = await app.rest.apps.createInstallationAccessToken({
          installation_id: run.installationId,
          repositories: repositories.map((repository) => repository.repo),
          permissions: { contents: fork ? "read" : "write", pull_requests: "write", issues: "write", metadata: "read" },
        });
        return { token: data.token, expiresAt: new Date(data.expires_at) };
      },
      revoke: async (token) => void (await deps.octokitForToken(token).rest.apps.revokeInstallationAccessToken()),
      ...(tokens ? { tokens } : {}),
      onRefreshError: (error) => deps.onTokenRefreshError?.(error, run.id),
    });
    const octokit = deps.octokitForToken(() => runToken.current);
    // The run's working trees, HOME and TMPDIR, in one private directory removed at the end.
    const directory = await createRunDirectory(deps.runsRoot).catch(async (error: unknown) => {
      await runToken.revoke();
      throw error;
    });
    try {
      const pr = run.context.pullRequest;
      let main: { dir: string; url: string; defaultBranch: string; head: string } | undefined;
      for (const [index, repository] of repositories.entries()) {
        const { data } = await octokit.rest.repos.get({ owner: repository.owner, repo: repository.repo });
        // The run's own repository comes first; a pull request run checks out the pull request's head, a release run its tag.
        const own = index === 0;
        const workspace = await deps.workspaces.checkout(
          { repository, url: data.clone_url, defaultBranch: data.default_branch, into: directory.work, ...(own && pr ? { pullRequest: { number: pr.number, headSha: pr.headSha, baseRef: pr.baseRef } } : {}), ...(own && run.context.release ? { tag: run.context.release.tag } : {}) },
          runToken.current,
        );
        if (own) main = { dir: workspace.dir, url: data.clone_url, defaultBranch: data.default_branch, head: workspace.head };
      }
      if (!main) throw new RunError("the routine has no repository to work in");
      const trigger: PromptInput["trigger"] = describeTrigger(run);
      const promptInput: Omit<PromptInput, "routine" | "task" | "claudeMd"> = { trigger };
      if (pr) {
        const { data: pull } = await octokit.rest.pulls.get({ ...run.repository, pull_number: pr.number });
        const files = await octokit.paginate(octokit.rest.pulls.listFiles, { ...run.repository, pull_number: pr.number, per_page: 100 });
        promptInput.pullRequest = { ...pr, body: pull.body ?? "" };
        promptInput.changedFiles = files.map(
          (file): ChangedFile => ({ path: file.filename, status: file.status, additions: file.additions, deletions: file.deletions, ...(file.patch ? { patch: file.patch } : {}) }),
        );
      }
      if (run.context.release) promptInput.release = run.context.release;
      if (run.context.extraInstructions) promptInput.untrusted = { source: UNTRUSTED_SOURCE[run.trigger.kind] ?? "command", text: run.context.extraInstructions };

      // Everything the server holds, not only this run's secrets: a command may have found more.
      const held = deps.heldSecrets ?? [];
      const redact = createRedactor(held, Object.values(secrets), () => runToken.all);
      const github: GitHubRun = {
        octokit,
        // Read at each push: the token is refreshed during long runs.
        get token() {
          return runToken.current;
        },
        repository: run.repository,
        dir: main.dir,
        url: main.url,
        defaultBranch: main.defaultBranch,
        startCommit: main.head,
        ...(pr ? { pullRequest: pr } : {}),
        ...(run.trigger.kind === "command" && !pr ? { issueNumber: run.trigger.issueNumber } : {}),
        routine: run.routine,
        runId: run.id,
        allowUnrestrictedBranchPushes: routine.allow_unrestricted_branch_pushes ?? false,
        author: await deps.botAuthor(octokit),
        redact,
      };
      // The routine's own files come from the default branch, never from a pull request's head.
      const readRepositoryFile = (path: string) => readFromDefaultBranch(octokit, run.repository, path);
      return await runSession({
        routineName: run.routine,
        routine,
        ...(environment ? { environment } : {}),
        root: main.dir,
        trigger: promptInput,
        secrets,
        alsoRedact: [...held, ...runToken.all],
        client: deps.client,
        defaultModel: deps.model,
        maxOutputTokens: deps.maxOutputTokens,
        extraTools: fork ? reviewTools(github) : githubTools(github),
        readRepositoryFile,
        // The operator's connectors carry the operator's credentials: fork runs get only those marked for forks.
        ...(deps.serverConnectors ? { serverConnectors: deps.serverConnectors.filter((spec) => !fork || spec.forks === true) } : {}),
        ...(deps.setupCacheDir ? { setupCacheDir: setupCacheScope(deps.setupCacheDir, run.installationId, run.repository, fork) } : {}),
        ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
        origin: { repository: `${run.repository.owner}/${run.repository.repo}`, fork },
        runDirectory: directory,
        startedAt,
        record,
        signal,
      });
    } finally {
      await directory.remove();
      // The tokens die with the run.
      await runToken.revoke();
    }
  }
}

/**
 * The setup cache a run reads and fills: one per installation, repository and trust, so that what
 * a fork's run left (its setup ran on the fork's code) never reaches a trusted run, nor one run's
 * cache another repository.
 */
export function setupCacheScope(root: string, installationId: number, repository: RepositoryId, fork: boolean): string {
  const scope = createHash("sha256").update(JSON.stringify([installationId, repository.owner.toLowerCase(), repository.repo.toLowerCase()])).digest("hex").slice(0, 24);
  return join(root, scope, fork ? "fork" : "trusted");
}

async function readFromDefaultBranch(octokit: Octokit, repository: RepositoryRef, path: string): Promise<string | undefined> {
  try {
    const { data } = await octokit.rest.repos.getContent({ ...repository, path });
    const file = data as { type?: string; content?: string; encoding?: string };
    return file.type === "file" && file.encoding === "base64" ? Buffer.from(file.content ?? "", "base64").toString("utf8") : undefined;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}
