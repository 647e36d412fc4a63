// One agent session in a working tree: the prompt, the tools, the command environment and the
// loop, with every transcript event redacted before it is recorded.
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { formatDuration, parseDuration } from "../config/duration.js";
import { formatBytes, LIMITS } from "../config/limits.js";
import type { Environment, Routine } from "../config/schema.js";
import type { RunResult } from "./execution.js";
import { runAgentLoop, type StopReason } from "./agent-loop.js";
import { RunBudget, runLimitsOf, type OperatorBudget } from "./budget.js";
import { formatUsd, priceOf, type PriceTable } from "./pricing.js";
import { commandEnvironment } from "./command-env.js";
import { connectorFetch } from "./connector-fetch.js";
import { openConnectors, parseConnectors, selectConnectors, type ConnectorSpec } from "./connectors.js";
import { resolveInside } from "./paths.js";
import { createRunDirectory, type RunDirectory } from "./run-directory.js";
import { unsandboxed, type Launcher } from "./launch.js";
import { confineRun, type Confinement, type LimitSetting } from "./run-limits.js";
import { processRunner } from "./run-command.js";
import { allowedDomains, blockedHint, commandPrograms, grantNetwork, sandboxLauncher } from "./sandbox.js";
import { sandboxShell, type SandboxShell } from "./sandbox-shell.js";
import { DEFAULT_SETUP_TIMEOUT_MS, runSetup } from "./setup-script.js";
import { buildPrompt, SYSTEM_PROMPT, type PromptInput } from "./prompt.js";
import { createRedactor } from "./redact.js";
import { createFile } from "./tools/create-file.js";
import { editFile } from "./tools/edit-file.js";
import { glob } from "./tools/glob.js";
import { grep } from "./tools/grep.js";
import { insertLines } from "./tools/insert-lines.js";
import { reportOutcome } from "./tools/report-outcome.js";
import { shell } from "./tools/shell.js";
import { view } from "./tools/view.js";
import type { Tool } from "./define-tool.js";
import type { ContextSetting } from "./context-clearing.js";

export const DEFAULT_MAX_TURNS = 100;
export const DEFAULT_TIMEOUT_MS = 30 * 60_000;

export const WORKSPACE_TOOLS: Tool[] = [shell, view, createFile, editFile, insertLines, glob, grep, reportOutcome];

export interface SessionOptions {
  routineName: string;
  routine: Routine;
  environment?: Environment;
  /** The working tree, as a real path. */
  root: string;
  /** What started the run, in words and details, for the prompt. */
  trigger: Omit<PromptInput, "routine" | "task" | "claudeMd">;
  /** Secret values for commands; empty for runs that get no secrets. */
  secrets: Record<string, string>;
  /** Values that must never appear in the transcript besides the secrets (tokens, keys). */
  alsoRedact?: string[];
  client: Anthropic;
  defaultModel: string;
  maxOutputTokens: number;
  /** How the session stays inside the context window; default DEFAULT_CONTEXT. */
  context?: ContextSetting;
  /** Tools besides the workspace ones (GitHub and connector tools). */
  extraTools?: Tool[];
  /**
   * Reads the repository's CLAUDE.md and prompt file. Default: from the working tree. Pull request
   * runs read them from the default branch, never from the pull request's head.
   */
  readRepositoryFile?: (path: string) => Promise<string | undefined>;
  /** The operator's connectors, already read from the connectors file. */
  serverConnectors?: ConnectorSpec[];
  /** Where setup script results are cached; without it the script always runs. */
  setupCacheDir?: string;
  /** Whether commands run in the sandbox; without it they run as plain bash (tests, trusted hosts). */
  sandbox?: SandboxSetting;
  /** Whose run this is: network: full is granted per repository ("owner/name"), never to a pull request from a fork. */
  origin?: { repository?: string; fork: boolean };
  /** Where the run's directory (its HOME and TMPDIR) is made; default: defaultRunsRoot(). */
  runsRoot?: string;
  /** The run's directory, when the caller made it (and removes it); else one is made under runsRoot. */
  runDirectory?: RunDirectory;
  /** The operator's model prices, looked at before the shipped ones. */
  prices?: PriceTable;
  /** The operator's default budgets (a routine's own budget comes first). */
  operatorBudget?: OperatorBudget;
  /** The most dollars this run may spend whatever its budget says (what is left of the routine's daily budget), and why. */
  spendCap?: { usd: number; why: string };
  /** Told of each model call's cost as it comes. */
  onSpent?: (costUsd: number) => Promise<void>;
  /** When the run started (epoch ms): the routine's timeout counts from here, setup included. Default: now. */
  startedAt?: number;
  /** Told of the session's budget and transcript once it has them (calls besides the agent's, such as a finding's verification, count in it). */
  onSession?: (session: { budget: RunBudget; record(kind: string, data: unknown): Promise<void>; signal?: AbortSignal }) => void;
  /** Told of each tool call that ended without an error (a review's coverage counts the changed files viewed). */
  onToolResult?: (name: string, input: unknown) => void;
  record(kind: string, data: unknown): Promise<void>;
  signal?: AbortSignal;
}

export interface SandboxSetting {
  available: boolean;
  /** Why the host cannot sandbox, when it cannot. */
  reason?: string;
  /** The operator's explicit choice to run commands without a sandbox on such a host. */
  allowUnsandboxed: boolean;
  /** The server's own files, which commands may not read wherever they are (see sandbox.ts). */
  hidden: string[];
  /** Repositories the operator grants network: full (ROUTINES_FULL_NETWORK_REPOSITORIES). */
  fullNetworkRepositories: readonly string[];
  /** What each run's commands may use (processes, memory, disk), sandboxed or not; without it, no limits. */
  limits?: LimitSetting;
}

export class SandboxUnavailableError extends Error {
  override name = "SandboxUnavailableError";
}

/** How commands start: in the sandbox under every network level, or (the operator's choice on a host that cannot sandbox) without it. */
async function launcherFor(options: SessionOptions, environment: Environment | undefined, run: RunDirectory): Promise<{ launch?: Launcher; sandboxed: boolean; warning?: string }> {
  const { sandbox, root } = options;
  if (!sandbox) return { sandboxed: false };
  if (sandbox.available) {
    // Every run directory is hidden, this run's own paths bound back: runs never see each other.
    const hidden = [...sandbox.hidden, dirname(run.path)];
    return { launch: await sandboxLauncher(environment, { writable: [root, run.home], hidden, tmp: run.tmp, state: run.sandbox, sockets: run.sockets }), sandboxed: true };
  }
  const level = environment?.network ?? "trusted";
  if (sandbox.allowUnsandboxed) return { sandboxed: false, warning: `commands run without a sandbox (network: ${level} is not enforced, and commands can read the server's files): ${sandbox.reason}` };
  throw new SandboxUnavailableError(
    `this host cannot sandbox commands (${sandbox.reason}), and every run's commands need the sandbox; the operator can set ROUTINES_ALLOW_UNSANDBOXED=true to run them without one`,
  );
}

/** The setup script's time limit: its own, or what is left of the run's when that comes first. */
function setupLimit(setupTimeout: string | undefined, deadline: number, runTimeoutMs: number): { timeoutMs: number; timeoutReason?: string } {
  const own = (setupTimeout && parseDuration(setupTimeout)) || DEFAULT_SETUP_TIMEOUT_MS;
  const left = Math.max(1, deadline - Date.now());
  return own <= left ? { timeoutMs: own } : { timeoutMs: left, timeoutReason: `the run reached its timeout of ${formatDuration(runTimeoutMs)}` };
}

export interface SessionResult extends RunResult {
  /** daily_budget: stopped at a budget that was what was left of the routine's daily one. */
  stopReason: StopReason | "daily_budget";
  detail?: string;
}

/** The run's budget: the routine's limits (or the operator's defaults), under the spend cap when that is lower. */
function budgetFor(options: SessionOptions, model: string): RunBudget {
  const limits = runLimitsOf(options.routine.budget, options.operatorBudget);
  const cap = options.spendCap;
  const capped = cap && (limits.runUsd === undefined || cap.usd < limits.runUsd) ? { ...limits, runUsd: cap.usd, why: cap.why } : limits;
  return new RunBudget(capped, model, priceOf(model, options.prices), options.onSpent);
}

async function readOptional(root: string, path: string): Promise<string | undefined> {
  return readFile(await resolveInside(root, path), "utf8").catch(() => undefined);
}

export async function runSession(options: SessionOptions): Promise<SessionResult> {
  const { routine, root } = options;
  const redact = createRedactor([...Object.values(options.secrets), ...(options.alsoRedact ?? [])]);
  const record = (kind: string, data: unknown) => options.record(kind, redact(data));

  const model = routine.model ?? options.defaultModel;
  // Before anything is checked out or run: a dollar budget on a model without a price is an error at once.
  const budget = budgetFor(options, model);
  // Calls besides the agent's count in the same budget; a model among them without a price is refused here too.
  options.onSession?.({ budget, record, ...(options.signal ? { signal: options.signal } : {}) });
  const readRepositoryFile = options.readRepositoryFile ?? ((path: string) => readOptional(root, path));
  let task = routine.prompt;
  if (task === undefined && routine.prompt_file) {
    task = await readRepositoryFile(routine.prompt_file);
    if (task === undefined) throw new Error(`prompt_file ${routine.prompt_file} is not in the repository`);
    const bytes = Buffer.byteLength(task, "utf8");
    if (bytes > LIMITS.promptFileBytes) throw new Error(`prompt_file ${routine.prompt_file} is ${formatBytes(bytes)}; the limit is ${formatBytes(LIMITS.promptFileBytes)}`);
  }
  const claudeMd = await readRepositoryFile("CLAUDE.md");
  const prompt = buildPrompt({ ...options.trigger, routine: options.routineName, task: task ?? "", ...(claudeMd === undefined ? {} : { claudeMd }) });
  const run = options.runDirectory ?? (await createRunDirectory(options.runsRoot));
  // The routine's timeout covers the whole run: checkout, setup and connectors count too.
  const timeoutMs = (routine.timeout && parseDuration(routine.timeout)) || DEFAULT_TIMEOUT_MS;
  const deadline = (options.startedAt ?? Date.now()) + timeoutMs;
  const env = commandEnvironment({ home: run.home, tmp: run.tmp, ...(options.environment ? { environment: options.environment } : {}), secrets: options.secrets });
  let connectors: Awaited<ReturnType<typeof startConnectors>> | undefined;
  let limits: Confinement | undefined;
  let shell: SandboxShell | undefined;
  try {
    // The run's processes, memory and disk: a run over a limit is stopped, with the limit as its reason.
    limits = options.sandbox?.limits ? await confineRun(options.sandbox.limits, run.path, options.signal ? { signal: options.signal } : {}) : undefined;
    const signal = limits?.signal ?? options.signal;
    // Without a sandbox there is no network policy to grant.
    const granted = options.sandbox ? grantNetwork(options.environment, options.origin ?? { fork: false }, options.sandbox.fullNetworkRepositories) : { environment: options.environment };
    const environment = granted.environment;
    const launcher = await launcherFor(options, environment, run);
    const { warning } = launcher;
    const launch = limits ? limits.launcher(launcher.launch ?? unsandboxed, launcher.sandboxed) : launcher.launch;
    // Sandboxed, the run's commands share one sandbox, started now and ready by the first; connectors keep one each.
    if (launcher.sandboxed && launch) {
      shell = sandboxShell({ launch, cwd: root, env, programs: commandPrograms() });
      shell.prepare();
    }
    const commands = shell ?? (launch ? processRunner(env, launch) : undefined);
    if (environment?.setup) {
      await record("setup_start", { script: environment.setup });
      const setup = await runSetup({
        script: environment.setup,
        root,
        env,
        keyParts: { env: environment.env ?? {}, secrets: environment.secrets ?? [], network: environment.network ?? "trusted" },
        ...setupLimit(environment.setup_timeout, deadline, timeoutMs),
        ...(options.setupCacheDir ? { cacheDir: options.setupCacheDir } : {}),
        ...(signal ? { signal } : {}),
        ...(commands ? { commands } : {}),
      }).catch(async (error: unknown) => {
        await record("setup_end", { failed: true, error: (error as Error).message });
        throw error;
      });
      await record("setup_end", setup);
    }
    connectors = await startConnectors(options, environment, readRepositoryFile, env, launch);
    const unpriced = budget.costUsd === undefined ? `the model ${model} has no known price, so this run's cost is unknown (the operator can add it with ROUTINES_PRICES_FILE)` : undefined;
    for (const note of [warning, granted.warning, unpriced]) if (note) connectors.warnings.unshift(note);
    await record("session_start", { model, routine: options.routineName, connectors: connectors.connected, warnings: connectors.warnings, budget: describeLimits(budget) });
    const result = await runAgentLoop({
      client: options.client,
      model,
      system: SYSTEM_PROMPT,
      prompt,
      // Commands may use secrets, but their values never go back to the model.
      tools: [...WORKSPACE_TOOLS, ...(options.extraTools ?? []), ...connectors.tools].map((tool) => ({
        ...tool,
        run: async (input, context) => {
          const result = await tool.run(input, context);
          if (!result.isError) options.onToolResult?.(tool.name, input);
          // A command that crossed a limit stops the run before the model goes on.
          await limits?.check();
          return { ...result, output: redact(result.output) };
        },
      })),
      maxTurns: routine.max_turns ?? DEFAULT_MAX_TURNS,
      // The schema has checked the duration.
      timeoutMs,
      deadline,
      maxOutputTokens: options.maxOutputTokens,
      ...(options.context ? { context: options.context } : {}),
      toolContext: { root, env, ...(commands ? { commands } : {}), networkHint: (output: string, command: string) => blockedHint(output, environment, command) },
      ...(signal ? { signal } : {}),
      budget,
      record,
    });
    const crossed = await limits?.check();
    if (crossed) throw crossed;
    const summary = result.outcome?.summary ?? `The session ended without an outcome: ${result.detail ?? result.stopReason}.`;
    const costUsd = budget.costUsd;
    // Stopped for want of what was left of the day's budget: the day's budget is spent (admission rejects new runs).
    const stopReason = result.stopReason === "budget" && budget.limits.why ? "daily_budget" : result.stopReason;
    await record("session_end", { stopReason, detail: result.detail, outcome: result.outcome?.outcome ?? "unknown", usage: result.usage, ...(costUsd === undefined ? {} : { costUsd }) });
    return {
      outcome: result.outcome?.outcome ?? "unknown",
      summary: redact(summary),
      usage: result.usage,
      ...(costUsd === undefined ? {} : { costUsd }),
      stopReason,
      ...(result.detail ? { detail: result.detail } : {}),
    };
  } catch (error) {
    // Whatever a crossed limit cut short (the setup script, a connector), the limit is the reason.
    throw limits?.exceeded() ?? error;
  } finally {
    await connectors?.close();
    await shell?.close();
    await limits?.close();
    if (!options.runDirectory) await run.remove();
  }
}

/** The run's limits as the transcript shows them. */
function describeLimits(budget: RunBudget): { runUsd?: string; runTokens?: number; why?: string } | undefined {
  const { runUsd, runTokens, why } = budget.limits;
  if (runUsd === undefined && runTokens === undefined) return undefined;
  return { ...(runUsd === undefined ? {} : { runUsd: formatUsd(runUsd) }), ...(runTokens === undefined ? {} : { runTokens }), ...(why ? { why } : {}) };
}

/** The repository's .mcp.json (its `${VAR}`s from the routine's secrets) and the operator's connectors, as the routine selects them. */
async function startConnectors(options: SessionOptions, environment: Environment | undefined, read: (path: string) => Promise<string | undefined>, env: Record<string, string>, launch?: Launcher) {
  const fromRepository = await read(".mcp.json");
  const repository = fromRepository === undefined ? { specs: [], warnings: [] } : parseConnectors(fromRepository, options.secrets, ".mcp.json");
  // The operator's connector of a name wins over the repository's.
  const server = options.serverConnectors ?? [];
  const available = [...repository.specs.filter((spec) => !server.some((other) => other.name === spec.name)), ...server];
  const selected = selectConnectors(available, options.routine.connectors);
  // The repository's HTTP connectors keep to the routine's network policy and public addresses; the operator's are the operator's to point.
  const guarded = connectorFetch(allowedDomains(environment));
  const fetchFor = (spec: ConnectorSpec) => (repository.specs.includes(spec) ? guarded : undefined);
  // Stdio connectors start in the working tree, like commands.
  const opened = await openConnectors(selected.specs, { env, fetchFor, cwd: options.root, ...(launch ? { launch } : {}) });
  return { ...opened, warnings: [...repository.warnings, ...selected.warnings, ...opened.warnings] };
}
