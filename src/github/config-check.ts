// The routines/config check run: validates .claude/routines.yml at a commit and reports the
// routines it defines, or one annotation per problem at its line, warnings included (such as a
// repository named under repositories: that does not share itself with this one).
import { namedRepositories, withConsentScope, type Refusals } from "../config/consent-scope.js";
import { describeTrigger } from "../config/describe.js";
import { formatProblem, isError, type Problem } from "../config/problem.js";
import { CONFIG_PATH, ConfigReadError, readConfigFile, type Octokit, type RepositoryRef } from "../config/read-config-file.js";
import { nextRuns, timezoneOf } from "../config/schedule.js";
import { SecretGrants, type SecretGrant } from "../config/secret-grants.js";
import { withSecretScope } from "../config/secret-scope.js";
import type { ShareGrant } from "../config/share-with.js";
import { formatInZone } from "../config/time.js";
import { LIMITS } from "../config/limits.js";
import { runOffThread } from "../config/off-thread.js";
import { BUDGET_PROBLEMS } from "../config/validate-off-thread.js";
import { validateRoutines, type RoutinesConfig, type ValidateOptions } from "../config/validate.js";
import { consentRefusals } from "./share-consent.js";

export const CONFIG_CHECK_NAME = "routines/config";
/** GitHub accepts at most 50 annotations per request; more are sent in further updates. */
export const ANNOTATIONS_PER_REQUEST = 50;

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column: number;
  end_column: number;
  annotation_level: "failure" | "warning";
  title: string;
  message: string;
}

export interface CheckOutput {
  conclusion: "success" | "failure";
  title: string;
  summary: string;
  annotations: Annotation[];
}

/** The table shows next runs this far ahead; a rarer schedule shows none rather than cost decades of days. */
const NEXT_RUN_HORIZON = 5 * 366 * 24 * 3_600_000;

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function routinesTable(config: RoutinesConfig, now: Date): string {
  const rows = Object.entries(config.routines).map(([name, routine]) => {
    const triggers = routine.triggers ?? [];
    const described = triggers.length > 0 ? triggers.map((trigger) => cell(describeTrigger(trigger, name))).join("<br>") : "on demand only";
    const next = triggers
      .flatMap((trigger) => (trigger.schedule ? nextRuns(trigger.schedule, 1, now, NEXT_RUN_HORIZON).map((at) => ({ at, zone: timezoneOf(trigger.schedule!) })) : []))
      .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
    return `| \`${name}\` | ${described} | ${next ? formatInZone(next.at, next.zone) : "–"} |`;
  });
  if (rows.length === 0) return "No routines are defined.";
  return ["| Routine | Triggers | Next scheduled run |", "| --- | --- | --- |", ...rows].join("\n");
}

function annotation(problem: Problem): Annotation {
  return {
    path: CONFIG_PATH,
    start_line: problem.line,
    end_line: problem.line,
    start_column: problem.col,
    end_column: problem.col,
    annotation_level: problem.severity === "error" ? "failure" : "warning",
    title: problem.severity === "error" ? "Invalid routines config" : "Routines config warning",
    message: formatProblem(CONFIG_PATH, problem),
  };
}

/** What the check says about a validated file. */
export function configCheckOutput(config: RoutinesConfig, now = new Date()): CheckOutput {
  const errors = config.problems.filter(isError).length;
  const warnings = config.problems.length - errors;
  const routines = Object.keys(config.routines).length;
  const counts = [errors > 0 ? plural(errors, "error") : "", warnings > 0 ? plural(warnings, "warning") : ""].filter(Boolean).join(", ");
  const title = errors > 0 ? `${counts} in ${CONFIG_PATH}` : `${plural(routines, "routine")}${warnings > 0 ? `, ${counts}` : ""}`;
  const sections = [];
  if (config.problems.length > 0) {
    sections.push(`### Problems\n\n${config.problems.map((problem) => `- ${formatProblem(CONFIG_PATH, problem)}`).join("\n")}`);
  }
  const heading = errors > 0 ? "### Routines that are valid despite the errors" : "### Routines";
  sections.push(`${heading}\n\nRoutines always run from the default branch; this file takes effect once it is merged there.\n\n${routinesTable(config, now)}`);
  return { conclusion: errors > 0 ? "failure" : "success", title, summary: sections.join("\n\n"), annotations: config.problems.map(annotation) };
}

export interface InspectOptions extends ValidateOptions {
  /** The repository and the operator's grants (names and repositories only) for the secret-scope check. */
  scope?: { repository: RepositoryRef; grants: readonly SecretGrant[] };
  /** The other repositories named under repositories: that do not consent to this repository's runs. */
  refusals?: Refusals;
}

/** What the check says of a file, and what the server needs to know of it beyond that. */
export interface Inspection extends CheckOutput {
  /** The other repositories its routines name (lower-cased owner/name); absent when it could not be checked. */
  repositories?: string[];
  /** The repositories it shares itself with; absent when it could not be checked. */
  shareWith?: ShareGrant[];
}

/** Validates a file's text and says what the check says of it. */
export type InspectConfig = (source: string, options: InspectOptions) => Promise<Inspection>;

export const inspectInThread: InspectConfig = async (source, { scope, refusals, ...options }) => {
  let config = validateRoutines(source, options);
  if (scope) config = withSecretScope(source, config, new SecretGrants(scope.grants), scope.repository);
  if (refusals) config = withConsentScope(source, config, refusals);
  return { ...configCheckOutput(config, options.now), repositories: namedRepositories(config), shareWith: config.shareWith };
};

const budgetFailure = (message: string): CheckOutput => ({ conclusion: "failure", title: `Cannot check ${CONFIG_PATH}`, summary: `${CONFIG_PATH}:1:1: ${message}`, annotations: [] });

/** As the server checks a file: off the event loop, within LIMITS.validationMs (a pull request's file is anyone's text). */
export const inspectOffThread: InspectConfig = (source, options) =>
  runOffThread(new URL("./config-check-worker.js", import.meta.url), { source, options }, {
    timeoutMs: LIMITS.validationMs,
    tooSlow: () => budgetFailure(BUDGET_PROBLEMS.tooSlow),
    tooLarge: () => budgetFailure(BUDGET_PROBLEMS.tooLarge),
  });

/**
 * The inspection of `source`, with a warning at each entry of a routine's repositories: that names a
 * repository that does not share itself with this one. Each such repository's own file is read from
 * its default branch, as the run will read it, and inspected the same way (off the event loop).
 */
async function inspectWithConsent(octokit: Octokit, repository: RepositoryRef, source: string, options: InspectOptions, inspect: InspectConfig): Promise<CheckOutput> {
  // The other repositories' files are inspected as files of their own: without this one's grants or refusals.
  const { scope: _scope, refusals: _refusals, ...validate } = options;
  const inspection = await inspect(source, options);
  if (!inspection.repositories?.length) return checkOutput(inspection);
  const refusals = await consentRefusals(octokit, repository, inspection.repositories, async (other) => (await inspect(other, validate)).shareWith ?? []);
  return Object.keys(refusals).length === 0 ? checkOutput(inspection) : checkOutput(await inspect(source, { ...options, refusals }));
}

/** Only what the check publishes. */
const checkOutput = ({ conclusion, title, summary, annotations }: CheckOutput): CheckOutput => ({ conclusion, title, summary, annotations });

/** Creates the completed check run, sending annotations in batches GitHub accepts. */
export async function publishConfigCheck(octokit: Octokit, repository: RepositoryRef, headSha: string, output: CheckOutput): Promise<void> {
  const { conclusion, title, summary, annotations } = output;
  const batches = [];
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) batches.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  const [first = [], ...rest] = batches;
  const { data: check } = await octokit.rest.checks.create({
    ...repository,
    name: CONFIG_CHECK_NAME,
    head_sha: headSha,
    status: "completed",
    conclusion,
    completed_at: new Date().toISOString(),
    output: { title, summary, annotations: first },
  });
  for (const batch of rest) {
    await octokit.rest.checks.update({ ...repository, check_run_id: check.id, output: { title, summary, annotations: batch } });
  }
}

export interface ConfigCheckOptions extends ValidateOptions {
  /** The operator's secret grants: a secret the file names that is not granted to the repository is an error. */
  secrets?: SecretGrants;
}

/**
 * Validates the config file as it is at `sha` and publishes the check on that commit. The server
 * passes inspectOffThread: a pull request's file is anyone's text, fork pull requests included.
 */
export async function checkConfigAt(octokit: Octokit, repository: RepositoryRef, sha: string, options: ConfigCheckOptions, inspect: InspectConfig = inspectInThread): Promise<CheckOutput> {
  const { secrets, ...validate } = options;
  // Grants go to the check without their values, which must not cross into a worker thread.
  const inspectOptions: InspectOptions = { ...validate, ...(secrets ? { scope: { repository, grants: secrets.grants.map((grant) => ({ ...grant, value: "" })) } } : {}) };
  let output: CheckOutput;
  try {
    const file = await readConfigFile(octokit, repository, { ref: sha });
    output = file.found && "source" in file
      ? await inspectWithConsent(octokit, repository, file.source, inspectOptions, inspect)
      : { conclusion: "success", title: "No routines file", summary: `This commit has no ${CONFIG_PATH}: no routines will run from it.`, annotations: [] };
  } catch (error) {
    // A file GitHub served but we refuse (too large, not a file) is the author's to fix; API failures are not.
    if (!(error instanceof ConfigReadError) || error.status !== undefined) throw error;
    output = { conclusion: "failure", title: `Cannot read ${CONFIG_PATH}`, summary: error.message, annotations: [] };
  }
  await publishConfigCheck(octokit, repository, sha, output);
  return output;
}
