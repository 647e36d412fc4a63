// Executes a queued run on the server: tokens scoped to the routine's repositories (the other
// repositories only with their consent, read-only unless they share write access), working trees
// of them, the session with the workspace and GitHub tools, and cleanup whatever happens (working
// trees removed, tokens revoked).
import { createHash } from "node:crypto";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { environmentOf } from "../config/environment-of.js";
import type { Octokit, RepositoryRef } from "../config/read-config-file.js";
import type { RoutinesCache } from "../config/routines-cache.js";
import { fromFork, type RepositoryId, type RunRequest, type TokenUsage } from "../run-request.js";
import { SecretGrantError, SecretGrants } from "../config/secret-grants.js";
import { fullName } from "../config/share-with.js";
import { DAILY_WINDOW_MS, dailyLimitOf, type OperatorBudget } from "./budget.js";
import { runSecrets } from "./command-env.js";
import type { ConnectorSpec } from "./connectors.js";
import type { ExecutionContext, RunExecutor } from "./execution.js";
import type { GitHubRun } from "./github-run.js";
import { githubTools, reviewTools } from "./github-tools.js";
import { DEFAULT_MAX_GITHUB_WRITES, GitHubWrites } from "./github-writes.js";
import { otherRepositories, prepareCheckouts, RepositoryAccessError, type OtherRepository } from "./other-repositories.js";
import { formatUsd, priceOf, type PriceTable } from "./pricing.js";
import { inlineDiff, type ChangedFile, type PromptInput } from "./prompt.js";
import { ReviewCoverage } from "./review-coverage.js";
import type { ReviewScope } from "./review-scope.js";
import { skipReason } from "./skipped-files.js";
import { DEFAULT_VERIFY_MODEL, FindingVerifier, type VerifierSession } from "./verify-findings.js";
import { createRedactor } from "./redact.js";
import { changesSinceReview, withinPullRequest } from "./review-since.js";
import { createRunDirectory } from "./run-directory.js";
import { RunTokens, type RunToken, type RunTokenOptions } from "./run-token.js";
import { runSession, type SandboxSetting, type SessionResult } from "./run-session.js";
import type { Workspaces } from "./workspace.js";
import type { ContextSetting } from "./context-clearing.js";

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
  /** The operator's model prices, looked at before the shipped ones. */
  prices?: PriceTable;
  /** The operator's default budgets and ceilings. */
  operatorBudget?: OperatorBudget;
  /** How long sessions stay inside the context window; default DEFAULT_CONTEXT. */
  context?: ContextSetting;
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

type TokenPermissions = NonNullable<NonNullable<Parameters<Octokit["rest"]["apps"]["createInstallationAccessToken"]>[0]>["permissions"]>;

/** What the run's own repository's token may do: what its tools need; a fork's run writes no code. */
const ownPermissions = (fork: boolean): TokenPermissions => ({ contents: fork ? "read" : "write", pull_requests: "write", issues: "write", metadata: "read" });
/**
 * What a shared repository's token may do: read its code and issues, or, shared for writing, also
 * push claude/ branches, open pull requests and work on issues.
 */
const SHARED_PERMISSIONS: Record<OtherRepository["access"], TokenPermissions> = {
  read: { contents: "read", issues: "read", metadata: "read" },
  write: { contents: "write", pull_requests: "write", issues: "write", metadata: "read" },
};

/** Another repository as the run has it: checked out, with the token of its access. */
interface OtherCheckout extends OtherRepository {
  token: RunToken;
  dir: string;
  url: string;
  defaultBranch: string;
  head: string;
}

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

  async execute(run: RunRequest & { id: string }, { signal, record, tokens, spent, routineCost, lastReviewedCommit }: ExecutionContext): Promise<SessionResult> {
    const { deps } = this;
    // The routine's timeout counts from here: minting, checkout and setup take part of it.
    const startedAt = Date.now();
    const app = await deps.appOctokit();
    const installation = await deps.installationOctokit(run.installationId);
    const config = await deps.routines.load(installation, run.repository);
    const routine = config.found ? config.routines[run.routine] : undefined;
    if (!config.found || !routine) throw new RunError(`routine ${run.routine} is no longer defined (or has errors) on the default branch of ${run.repository.owner}/${run.repository.repo}`);

    // What is left of the routine's daily budget caps this run, so runs at once cannot go far past it.
    const daily = dailyLimitOf(routine.budget, deps.operatorBudget);
    const spendCap =
      daily !== undefined && routineCost
        ? { usd: Math.max(0, daily - (await routineCost(new Date(startedAt - DAILY_WINDOW_MS)))), why: `what was left of the routine's daily budget of ${formatUsd(daily)}` }
        : undefined;

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
    // Other repositories consented to this repository's runs, not to a fork's author: fork runs get none.
    let others: OtherRepository[] = [];
    if (!fork) {
      others = await otherRepositories(routine.repositories, run.repository, async (repository) => {
        const shared = await deps.routines.load(installation, repository);
        return shared.found ? shared.shareWith : undefined;
      }).catch((error: unknown) => {
        throw error instanceof RepositoryAccessError ? new RunError(error.message) : error;
      });
    }
    // Tokens for this run alone, one per permission set (a token has one set for all its repositories).
    const scope = (repositories: RepositoryId[], permissions: TokenPermissions): RunTokenOptions => ({
      mint: async () => {
        const { data } = await app.rest.apps.createInstallationAccessToken({ installation_id: run.installationId, repositories: repositories.map((repository) => repository.repo), permissions });
        return { token: data.token, expiresAt: new Date(data.expires_at) };
      },
      revoke: async (token) => void (await deps.octokitForToken(token).rest.apps.revokeInstallationAccessToken()),
      ...(tokens ? { tokens } : {}),
      onRefreshError: (error) => deps.onTokenRefreshError?.(error, run.id),
    });
    const runTokens = new RunTokens();
    const runToken = await runTokens.mint(scope([run.repository], ownPermissions(fork)));
    const sharedTokens = new Map<OtherRepository["access"], RunToken>();
    for (const access of ["read", "write"] as const) {
      const shared = others.filter((other) => other.access === access).map((other) => other.repository);
      if (shared.length > 0) sharedTokens.set(access, await runTokens.mint(scope(shared, SHARED_PERMISSIONS[access])));
    }
    const octokit = deps.octokitForToken(() => runToken.current);
    // The run's working trees, HOME and TMPDIR, in one private directory removed at the end.
    const directory = await createRunDirectory(deps.runsRoot).catch(async (error: unknown) => {
      await runTokens.revoke();
      throw error;
    });
    try {
      const pr = run.context.pullRequest;
      const { workflowRun, deployment, issue } = run.context;
      // The run's own repository: a pull request run checks out the pull request's head, a release
      // run its tag, a workflow or deployment run its commit.
      const { data } = await octokit.rest.repos.get({ owner: run.repository.owner, repo: run.repository.repo });
      const commit = workflowRun
        ? { sha: workflowRun.headSha, ...(workflowRun.headBranch ? { ref: workflowRun.headBranch } : {}) }
        : deployment && { sha: deployment.sha, ref: deployment.ref };
      const workspace = await deps.workspaces.checkout(
        {
          repository: run.repository,
          url: data.clone_url,
          defaultBranch: data.default_branch,
          into: directory.work,
          ...(pr ? { pullRequest: { number: pr.number, headSha: pr.headSha, baseRef: pr.baseRef } } : {}),
          ...(run.context.release ? { tag: run.context.release.tag } : {}),
          ...(commit ? { commit } : {}),
        },
        runToken.current,
      );
      const main = { dir: workspace.dir, url: data.clone_url, defaultBranch: data.default_branch, head: workspace.head };
      // The others on their default branches, inside the working tree where the agent's tools reach them.
      await prepareCheckouts(main.dir, others).catch((error: unknown) => {
        throw error instanceof RepositoryAccessError ? new RunError(error.message) : error;
      });
      const checkouts: OtherCheckout[] = [];
      for (const other of others) {
        const token = sharedTokens.get(other.access)!;
        const { data: shared } = await deps.octokitForToken(token.current).rest.repos.get({ owner: other.repository.owner, repo: other.repository.repo });
        const checkout = await deps.workspaces.checkout({ repository: other.repository, url: shared.clone_url, defaultBranch: shared.default_branch, at: join(main.dir, other.path) }, token.current);
        checkouts.push({ ...other, token, dir: checkout.dir, url: shared.clone_url, defaultBranch: shared.default_branch, head: checkout.head });
      }
      const trigger: PromptInput["trigger"] = describeTrigger(run);
      const promptInput: Omit<PromptInput, "routine" | "task" | "claudeMd"> = { trigger };
      if (others.length > 0) promptInput.repositories = others.map(({ repository, path, access }) => ({ name: fullName(repository), path, access }));
      let review: ReviewScope | undefined;
      if (pr) {
        const { data: pull } = await octokit.rest.pulls.get({ ...run.repository, pull_number: pr.number });
        // GitHub lists at most 3000 files, 100 a page, and leaves out the patch of very large files.
        const files = await octokit.paginate(octokit.rest.pulls.listFiles, { ...run.repository, pull_number: pr.number, per_page: 100 });
        promptInput.pullRequest = { ...pr, body: pull.body ?? "" };
        // Which files are skipped: the routine's globs and the default branch's .gitattributes, never the pull request's.
        const skipping = { ...(routine.review?.skip ? { skip: routine.review.skip } : {}), ...(await withGitattributes(octokit, run.repository)) };
        const marked = (file: ChangedFile): ChangedFile => {
          const reason = skipReason(file.path, skipping);
          return reason ? { ...file, skipped: reason } : file;
        };
        promptInput.changedFiles = files.map((file) =>
          marked({ path: file.filename, status: file.status, additions: file.additions, deletions: file.deletions, ...(file.patch ? { patch: file.patch } : {}) }),
        );
        // A re-review looks at what came after the commit the routine last reviewed.
        const reviewed = await lastReviewedCommit?.();
        let since = reviewed ? await changesSinceReview(octokit, run.repository, reviewed, pr.headSha) : undefined;
        // Only with the pull request's whole file list (GitHub lists at most 3000) can a file be known not to be among its changes.
        const listedWhole = files.length >= (pull.changed_files ?? files.length);
        if (since && listedWhole) since = withinPullRequest(since, new Set(files.map((file) => file.filename)));
        if (since?.kind === "since") since = { ...since, files: since.files.map(marked) };
        if (since) promptInput.sinceReview = since;
        const scope = since?.kind === "since" ? since.files : promptInput.changedFiles;
        const coverage = new ReviewCoverage(scope, since?.kind === "since" ? 0 : Math.max(0, (pull.changed_files ?? files.length) - files.length));
        // A diff small enough is in the prompt whole: its files count as seen.
        for (const file of inlineDiff(scope)?.files ?? []) coverage.saw(file.path);
        const verifyModel = routine.review?.verify_model ?? DEFAULT_VERIFY_MODEL;
        review = {
          files: promptInput.changedFiles,
          coverage,
          ...(since?.kind === "since" ? { since: since.commit } : {}),
          ...(routine.review?.verify ? { verifier: new FindingVerifier({ client: deps.client, model: verifyModel, price: priceOf(verifyModel, deps.prices) }) } : {}),
        };
      }
      if (run.context.release) promptInput.release = run.context.release;
      if (issue) promptInput.issue = issue;
      if (workflowRun) promptInput.workflowRun = workflowRun;
      if (deployment) promptInput.deployment = deployment;
      if (run.context.extraInstructions) promptInput.untrusted = { source: UNTRUSTED_SOURCE[run.trigger.kind] ?? "command", text: run.context.extraInstructions };

      // Everything the server holds, not only this run's secrets: a command may have found more.
      const held = deps.heldSecrets ?? [];
      const redact = createRedactor(held, Object.values(secrets), () => runTokens.all);
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
        ...(review ? { review } : {}),
        ...(run.trigger.kind === "command" && !pr ? { issueNumber: run.trigger.issueNumber } : {}),
        // An issues trigger's run is about its issue: comment without a number comments there.
        ...(issue ? { issueNumber: issue.number } : {}),
        routine: run.routine,
        runId: run.id,
        allowUnrestrictedBranchPushes: routine.allow_unrestricted_branch_pushes ?? false,
        author: await deps.botAuthor(octokit),
        redact,
        writes: new GitHubWrites(routine.max_github_writes ?? DEFAULT_MAX_GITHUB_WRITES),
      };
      // The other repositories, each with a client of its own token; those shared for writing with a run to push and post with.
      github.others = checkouts.map((checkout) => {
        const client = deps.octokitForToken(() => checkout.token.current);
        return { name: fullName(checkout.repository), access: checkout.access, octokit: client, ...(checkout.access === "write" ? { run: sharedRun(github, checkout, client) } : {}) };
      });
      // The routine's own files come from the default branch, never from a pull request's head.
      const readRepositoryFile = (path: string) => readFromDefaultBranch(octokit, run.repository, path);
      const result = await runSession({
        routineName: run.routine,
        routine,
        ...(environment ? { environment } : {}),
        root: main.dir,
        trigger: promptInput,
        secrets,
        alsoRedact: [...held, ...runTokens.all],
        client: deps.client,
        defaultModel: deps.model,
        ...(deps.prices ? { prices: deps.prices } : {}),
        ...(deps.operatorBudget ? { operatorBudget: deps.operatorBudget } : {}),
        ...(spendCap ? { spendCap } : {}),
        ...(spent ? { onSpent: spent } : {}),
        maxOutputTokens: deps.maxOutputTokens,
        ...(deps.context ? { context: deps.context } : {}),
        extraTools: fork ? reviewTools(github) : githubTools(github),
        readRepositoryFile,
        // The operator's connectors carry the operator's credentials: fork runs get only those marked for forks.
        ...(deps.serverConnectors ? { serverConnectors: deps.serverConnectors.filter((spec) => !fork || spec.forks === true) } : {}),
        ...(deps.setupCacheDir ? { setupCacheDir: setupCacheScope(deps.setupCacheDir, run.installationId, run.repository, fork) } : {}),
        ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
        origin: { repository: `${run.repository.owner}/${run.repository.repo}`, fork },
        runDirectory: directory,
        startedAt,
        // The verifier's calls count in the session's budget and show in its transcript.
        ...(review?.verifier ? { onSession: (session: VerifierSession) => review.verifier!.attach(session) } : {}),
        // Viewing a changed file is reading it, for the review's coverage.
        ...(review ? { onToolResult: (name: string, input: unknown) => countsAsRead(review, name, input) } : {}),
        record,
        signal,
      });
      // What the review read, for the transcript and the status comment ("no problems found in N files").
      if (review) await record("review_coverage", redact({ ...review.coverage.summary(), line: review.coverage.line() }));
      // The checks' tokens count in the run's, as their cost does.
      const checked = review?.verifier?.usage;
      return checked ? { ...result, usage: addTokens(result.usage, checked) } : result;
    } finally {
      await directory.remove();
      // The tokens die with the run.
      await runTokens.revoke();
    }
  }
}

/** The GitHub side of a shared repository that the run may push to: its own working tree, token and client; no pull request or issue of its own. */
function sharedRun(own: GitHubRun, checkout: OtherCheckout, octokit: Octokit): GitHubRun {
  return {
    octokit,
    get token() {
      return checkout.token.current;
    },
    repository: checkout.repository,
    dir: checkout.dir,
    url: checkout.url,
    defaultBranch: checkout.defaultBranch,
    startCommit: checkout.head,
    routine: own.routine,
    runId: own.runId,
    allowUnrestrictedBranchPushes: false,
    author: own.author,
    redact: own.redact,
    // One cap for the whole run, whichever repository a write goes to.
    writes: own.writes,
  };
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

/** The default branch's .gitattributes, for the files it marks linguist-generated or linguist-vendored. */
async function withGitattributes(octokit: Octokit, repository: RepositoryRef): Promise<{ gitattributes?: string }> {
  const text = await readFromDefaultBranch(octokit, repository, ".gitattributes").catch(() => undefined);
  return text === undefined ? {} : { gitattributes: text };
}

const addTokens = (a: TokenUsage = { inputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, outputTokens: 0 }, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  outputTokens: a.outputTokens + b.outputTokens,
});

/** A view of a changed file counts as reading it. */
function countsAsRead(review: ReviewScope, name: string, input: unknown): void {
  const path = (input as { path?: unknown } | null)?.path;
  // A view of part of a file (start_line) still counts: the agent chose what to read of it.
  if (name === "view" && typeof path === "string") review.coverage.saw(path);
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
