// `routines run <name>`: one session of a routine in a local checkout, with progress as it goes.
// File edits and commands apply to that checkout, as when working with an agent by hand.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { realpath } from "node:fs/promises";
import { join } from "node:path";
import git from "isomorphic-git";
import { ProbotOctokit } from "probot";
import { environmentOf } from "../config/environment-of.js";
import { GITHUB_EVENTS, type GithubEventName, type Routine } from "../config/schema.js";
import type { RepositoryId } from "../run-request.js";
import type { Tool } from "../session/define-tool.js";
import type { GitHubRun } from "../session/github-run.js";
import { githubTools } from "../session/github-tools.js";
import { DEFAULT_MAX_GITHUB_WRITES, GitHubWrites } from "../session/github-writes.js";
import { createModelClient, credentialsProblem, routeCredentials } from "../session/model-client.js";
import { createRedactor } from "../session/redact.js";
import { MissingSecretsError, resolveSecrets } from "../session/command-env.js";
import { formatUsd } from "../session/pricing.js";
import type { PromptInput } from "../session/prompt.js";
import { runSession } from "../session/run-session.js";
import { sandboxSupport } from "../session/sandbox.js";
import { SetupError } from "../session/setup-script.js";
import { isSecretVariable } from "../server-secrets.js";
import { readSettings } from "../settings.js";
import { eventFacts, PayloadError } from "../triggers/event-facts.js";
import { CliError, readInput, type Io } from "./io.js";
import { countErrors, loadConfigFile } from "./validate.js";

export interface RunArgs {
  name?: string;
  repo: string;
  config?: string;
  event?: string;
  payload?: string;
  text?: string;
  /** Print GitHub writes instead of sending them. */
  dryRun?: boolean;
}

type Trigger = Omit<PromptInput, "routine" | "task" | "claudeMd"> & { repository?: RepositoryId };

const isGithubEvent = (event: string): event is GithubEventName => (GITHUB_EVENTS as readonly string[]).includes(event);
const count = (n: number) => n.toLocaleString("en-US");

async function triggerFrom(args: RunArgs): Promise<Trigger> {
  const untrusted = args.text ? { untrusted: { source: "command line", text: args.text } } : {};
  if (!args.event) return { trigger: "run by hand from the command line", ...untrusted };
  if (!isGithubEvent(args.event)) throw new CliError(`--event must be one of ${GITHUB_EVENTS.join(", ")}`, 2);
  if (!args.payload) throw new CliError("--event needs --payload <file.json>", 2);
  let payload: unknown;
  try {
    payload = JSON.parse(await readInput(args.payload));
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${args.payload} is not JSON: ${(error as Error).message}`, 2);
  }
  try {
    const facts = eventFacts(args.event, payload);
    const pullRequest = facts.pullRequest && { ...facts.pullRequest, body: facts.text.body ?? "" };
    const fullName = (payload as { repository?: { full_name?: string } }).repository?.full_name;
    const [owner, repo] = fullName?.split("/") ?? [];
    return {
      trigger: `${args.event}.${facts.action}`,
      ...(pullRequest ? { pullRequest } : {}),
      ...(facts.release ? { release: facts.release } : {}),
      ...(facts.issue ? { issue: facts.issue } : {}),
      ...(facts.workflowRun ? { workflowRun: facts.workflowRun } : {}),
      ...(facts.deployment ? { deployment: facts.deployment } : {}),
      ...(owner && repo ? { repository: { owner, repo } } : {}),
      ...untrusted,
    };
  } catch (error) {
    if (error instanceof PayloadError) throw new CliError(`${args.payload}: ${error.message}`, 2);
    throw error;
  }
}

export async function run(args: RunArgs, io: Io): Promise<number> {
  if (!args.name) throw new CliError("run needs the routine's name: routines run <name>", 2);
  const root = await realpath(args.repo).catch(() => {
    throw new CliError(`cannot read ${args.repo}: no such directory`, 2);
  });
  const config = await loadConfigFile(args.config ?? join(root, ".claude/routines.yml"), io);
  if (countErrors(config) > 0) return 1;
  const routine = config.routines[args.name];
  if (!routine) throw new CliError(`no valid routine "${args.name}"; routines: ${Object.keys(config.routines).join(", ") || "none"}`, 2);
  const environment = environmentOf(routine, config.environments);
  let secrets: Record<string, string>;
  try {
    secrets = resolveSecrets(environment?.secrets ?? [], io.env);
  } catch (error) {
    if (error instanceof MissingSecretsError) throw new CliError(error.message, 2);
    throw error;
  }
  const settings = readSettings(io.env);
  const credentials = routeCredentials(settings.modelRoute.provider, io.env);
  const missing = credentialsProblem(settings.modelRoute.provider, credentials);
  if (missing?.blocking) throw new CliError(missing.missing, 2);
  if (missing) io.out(`warning: ${missing.message}\n`);
  // The agent loop retries overloads and rate limits itself.
  const client = await createModelClient(settings.modelRoute, credentials);
  const progress = async (kind: string, data: unknown) => {
    const event = data as Record<string, any>; // transcript events are plain JSON records
    if (kind === "session_start") {
      io.out(`Running ${args.name} with ${event.model} in ${root}\n`);
      if (event.connectors?.length) io.out(`connectors: ${event.connectors.join(", ")}\n`);
      for (const warning of event.warnings ?? []) io.out(`warning: ${warning}\n`);
    }
    if (kind === "setup_start") io.out("setup: running the environment's setup script\n");
    if (kind === "setup_end" && !event.failed) io.out(`setup: ${event.cached ? "restored from the cache" : "done"} in ${event.durationMs} ms\n`);
    if (kind === "model_response") {
      const { input, cacheRead, cacheWrite, output } = event.usage;
      const cost = typeof event.totalCostUsd === "number" ? `, ${formatUsd(event.costUsd)} (run ${formatUsd(event.totalCostUsd)})` : "";
      io.out(`turn ${event.turn}: ${count(input + cacheRead + cacheWrite)} input tokens (${count(cacheRead)} from cache), ${count(output)} output${cost}\n`);
    }
    if (kind === "assistant") io.out(`  ${String(event.text).trim().replace(/\n/g, "\n  ")}\n`);
    if (kind === "tool_call") io.out(`  → ${event.name} ${JSON.stringify(event.input).slice(0, 160)}\n`);
    if (kind === "tool_result" && event.isError) io.out(`  ✗ ${String(event.output).split("\n")[0]!.slice(0, 200)}\n`);
  };
  const trigger = await triggerFrom(args);
  // Local runs use the sandbox where the machine has one, and say so where it does not.
  const support = await sandboxSupport();
  const extraTools = await localGitHubTools(args, io, root, { routine, name: args.name, trigger, secrets });
  const result = await runSession({
    routineName: args.name,
    routine,
    ...(environment ? { environment } : {}),
    root,
    trigger,
    secrets,
    alsoRedact: [io.env.ANTHROPIC_API_KEY ?? "", io.env.ANTHROPIC_AUTH_TOKEN ?? "", io.env.GITHUB_TOKEN ?? "", ...Object.entries(credentials).flatMap(([name, value]) => (value && isSecretVariable(name) ? [value] : []))],
    extraTools,
    // A local run is the operator's own: network: full is theirs to use.
    sandbox: { available: support.ok, ...(support.ok ? {} : { reason: support.reason }), allowUnsandboxed: true, hidden: [], fullNetworkRepositories: ["*"] },
    client,
    defaultModel: settings.model,
    maxOutputTokens: settings.maxOutputTokens,
    prices: settings.prices,
    operatorBudget: settings.budget,
    context: settings.context,
    record: progress,
  }).catch((error: unknown) => {
    if (error instanceof SetupError) throw new CliError(error.message, 1);
    throw error;
  });
  const { usage } = result;
  io.out(`\nOutcome: ${result.outcome}${result.detail ? ` (${result.detail})` : ""}\n${result.summary ?? ""}\n`);
  io.out(`Tokens: ${count(usage?.inputTokens ?? 0)} input, ${count(usage?.cacheReadTokens ?? 0)} cache read, ${count(usage?.cacheWriteTokens ?? 0)} cache write, ${count(usage?.outputTokens ?? 0)} output\n`);
  io.out(`Cost: ${result.costUsd === undefined ? "unknown (the model has no known price)" : formatUsd(result.costUsd)}\n`);
  return result.outcome === "succeeded" ? 0 : 1;
}

/** The repository a checkout belongs to, from its origin remote, e.g. https://github.com/acme/app.git. */
async function originRepository(root: string): Promise<RepositoryId | undefined> {
  const url = (await git.getConfig({ fs, dir: root, path: "remote.origin.url" }).catch(() => undefined)) as string | undefined;
  const match = url && /[/:]([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  return match ? { owner: match[1]!, repo: match[2]! } : undefined;
}

/**
 * The GitHub tools, when GITHUB_TOKEN is set: they read from GitHub, and write there too unless
 * --dry-run prints the writes instead.
 */
async function localGitHubTools(
  args: RunArgs,
  io: Io,
  root: string,
  run: { routine: Routine; name: string; trigger: Trigger; secrets: Record<string, string> },
): Promise<Tool[]> {
  const token = io.env.GITHUB_TOKEN;
  if (!token) {
    if (args.dryRun) throw new CliError("--dry-run needs GITHUB_TOKEN: the GitHub tools read the pull request from GitHub before they would write", 2);
    return [];
  }
  const repository = run.trigger.repository ?? (await originRepository(root));
  if (!repository) throw new CliError(`cannot tell which GitHub repository ${root} is: it has no origin remote; pass --event with a --payload`, 2);
  const baseUrl = io.env.GHE_HOST ? `${io.env.GHE_PROTOCOL ?? "https"}://${io.env.GHE_HOST}/api/v3` : undefined;
  const octokit = new ProbotOctokit({ auth: { token }, ...(baseUrl ? { baseUrl } : {}) });
  const { data } = await octokit.rest.repos.get({ owner: repository.owner, repo: repository.repo });
  const github: GitHubRun = {
    octokit,
    token,
    repository,
    dir: root,
    url: data.clone_url,
    defaultBranch: data.default_branch,
    // The run's own commits are those after the checkout's HEAD as it was when the run started.
    ...(await headOf(root).then((startCommit) => (startCommit ? { startCommit } : {}))),
    ...(run.trigger.pullRequest ? { pullRequest: run.trigger.pullRequest } : {}),
    ...(run.trigger.issue ? { issueNumber: run.trigger.issue.number } : {}),
    routine: run.name,
    runId: `local_${randomBytes(4).toString("hex")}`,
    allowUnrestrictedBranchPushes: run.routine.allow_unrestricted_branch_pushes ?? false,
    author: { name: io.env.GIT_AUTHOR_NAME ?? "routines", email: io.env.GIT_AUTHOR_EMAIL ?? "routines@localhost" },
    redact: createRedactor([token, ...Object.values(run.secrets)]),
    writes: new GitHubWrites(run.routine.max_github_writes ?? DEFAULT_MAX_GITHUB_WRITES),
    ...(args.dryRun ? { dryRun: { print: (text: string) => io.out(`${text}\n`) } } : {}),
  };
  return githubTools(github);
}

const headOf = (dir: string) => git.resolveRef({ fs, dir, ref: "HEAD" }).catch(() => undefined);
