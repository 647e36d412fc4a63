// The schema of .claude/routines.yml: the single source of the TypeScript types, the validation
// and the JSON Schema for editors. Checks here depend on the value alone; checks that need the
// clock, the operator's settings or other parts of the file live in checks.ts.
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { patternProblem } from "./filter-pattern.js";
import { expandBraces } from "./globs.js";
import { LIMITS } from "./limits.js";
import { oneLine, quote } from "./problem.js";
import { cronProblem, isValidTimeZone, parseAt } from "./time.js";

type Shape = Record<string, z.ZodType>;
/** Unknown keys are errors everywhere: a typo must never silently disable a setting. */
const strict = <S extends Shape>(shape: S) => z.strictObject(shape);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
/**
 * Cross-field checks run even when a field is wrong, so every problem is reported at once; they
 * therefore see the value as written, not as typed: any field may hold any YAML value, and the
 * value may not be a map at all (`- api` for `- api: {}`), which the object schema reports.
 */
const always = { when: () => true };
type CrossCheck = (map: Record<string, unknown>, ctx: z.core.$RefinementCtx) => void;
const onMap = (check: CrossCheck) => (value: unknown, ctx: z.core.$RefinementCtx) => {
  if (isRecord(value)) check(value, ctx);
};

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const nameError = 'use 1 to 64 letters, digits, "-" or "_", starting with a letter or digit';
export const Name = z.string().regex(NAME, { error: nameError });

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VariableName = z.string().regex(VARIABLE, { error: "use letters, digits and _, not starting with a digit" });

export const Duration = z
  .string()
  .refine((text) => (parseDuration(text) ?? 0) > 0, {
    error: 'must be a duration such as "90s", "30m", "1h30m" or "2d"',
  })
  .meta({ pattern: "^([0-9]+[smhd])+$", examples: ["30m", "1h30m"] });

// ---------------------------------------------------------------------------------------------
// Environments

export const NETWORK_LEVELS = ["none", "trusted", "custom", "full"] as const;
const DOMAIN = /^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+$/;

export const Environment = strict({
  network: z
    .enum(NETWORK_LEVELS)
    .optional()
    .describe(
      "Network access of commands, the setup script and stdio connectors: none, trusted (package registries and common development hosts), custom (allowed_domains) or full. Default: trusted.",
    ),
  allowed_domains: z
    .array(z.string().regex(DOMAIN, { error: 'must be a host name such as "api.example.com" or "*.example.com"' }))
    .optional()
    .describe('Hosts reachable with network: custom; "*." matches any subdomain.'),
  include_trusted_domains: z
    .boolean()
    .optional()
    .describe("With network: custom, also allow the trusted list. Default: false."),
  env: z
    .record(VariableName, z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .optional()
    .describe("Environment variables for commands and stdio connectors."),
  secrets: z
    .array(VariableName)
    .optional()
    .describe("Names of secrets whose values the server provides; never the values themselves."),
  setup: z.string().min(1).optional().describe("Shell script run in the working tree before the agent starts; its result is cached."),
  setup_timeout: Duration.optional().describe('Time limit of the setup script. Default: "10m".'),
}).superRefine(onMap((env, ctx) => {
  const custom = env.network === "custom";
  if (custom && env.allowed_domains === undefined) {
    ctx.addIssue({ code: "custom", path: ["network"], message: "network: custom needs allowed_domains" });
  }
  for (const key of ["allowed_domains", "include_trusted_domains"] as const) {
    if (!custom && env[key] !== undefined) {
      ctx.addIssue({ code: "custom", path: [key], message: `${key} applies only to network: custom` });
    }
  }
  const variables = env.env;
  if (isRecord(variables) && Array.isArray(env.secrets)) {
    env.secrets.forEach((secret: unknown, index) => {
      if (typeof secret === "string" && Object.hasOwn(variables, secret)) {
        ctx.addIssue({ code: "custom", path: ["secrets", index], message: `${quote(secret)} is both in env and in secrets` });
      }
    });
  }
}), always);

// ---------------------------------------------------------------------------------------------
// Triggers

export const PULL_REQUEST_ACTIONS = [
  "opened", "closed", "reopened", "assigned", "unassigned", "labeled", "unlabeled",
  "synchronize", "ready_for_review", "edited",
] as const;
export const RELEASE_ACTIONS = ["created", "published", "edited", "deleted", "released", "prereleased"] as const;
export const ISSUE_ACTIONS = [
  "opened", "edited", "deleted", "transferred", "pinned", "unpinned", "closed", "reopened", "assigned",
  "unassigned", "labeled", "unlabeled", "locked", "unlocked", "milestoned", "demilestoned",
] as const;
export const WORKFLOW_RUN_ACTIONS = ["requested", "in_progress", "completed"] as const;
export const DEPLOYMENT_STATUS_ACTIONS = ["created"] as const;
export const GITHUB_EVENTS = ["pull_request", "release", "issues", "workflow_run", "deployment_status"] as const;
export type GithubEventName = (typeof GITHUB_EVENTS)[number];
export const ACTIONS_BY_EVENT: Record<GithubEventName, readonly string[]> = {
  pull_request: PULL_REQUEST_ACTIONS,
  release: RELEASE_ACTIONS,
  issues: ISSUE_ACTIONS,
  workflow_run: WORKFLOW_RUN_ACTIONS,
  deployment_status: DEPLOYMENT_STATUS_ACTIONS,
};
export const DEFAULT_ACTIONS = {
  pull_request: ["opened", "synchronize", "reopened", "ready_for_review"],
  release: ["published"],
  issues: ["opened", "reopened"],
  workflow_run: ["completed"],
  deployment_status: ["created"],
} as const satisfies Record<GithubEventName, readonly string[]>;
/** The values GitHub gives a workflow run's conclusion and a deployment status's state: a plain word outside them is a typo. */
export const WORKFLOW_CONCLUSIONS = ["success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", "stale", "startup_failure"] as const;
export const DEPLOYMENT_STATES = ["success", "failure", "error", "inactive", "in_progress", "queued", "pending"] as const;

const Pattern = z.string().superRefine((pattern, ctx) => {
  const problem = patternProblem(pattern);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const StringFilter = z
  .union([Pattern, z.array(Pattern).min(1, { error: "must list at least one pattern" })])
  .describe('A glob, "!glob" to negate, "/regex/flags", or a list meaning any of them.');
const LabelList = z.union([Pattern, z.array(Pattern)]);
const LabelFilter = z
  .union([LabelList, strict({ any: LabelList.optional(), all: LabelList.optional(), none: LabelList.optional() })])
  .describe("A label or list of labels (any of them), or {any, all, none}.");

export const FILTERS_BY_EVENT: Record<GithubEventName, readonly string[]> = {
  pull_request: ["author", "title", "body", "base_branch", "head_branch", "labels", "draft", "merged"],
  release: ["author", "title", "body", "tag", "target_branch"],
  issues: ["author", "title", "body", "labels"],
  workflow_run: ["workflow", "conclusion", "branch"],
  deployment_status: ["environment", "state"],
};

export const Filters = strict({
  author: StringFilter.optional().describe("Login of the pull request's, release's or issue's author."),
  title: StringFilter.optional().describe("Pull request or issue title, or release name."),
  body: StringFilter.optional().describe("Pull request, issue or release description."),
  base_branch: StringFilter.optional().describe("Branch the pull request targets."),
  head_branch: StringFilter.optional().describe("Branch the pull request comes from."),
  labels: LabelFilter.optional(),
  draft: z.boolean().optional().describe("Match only draft (true) or only ready (false) pull requests."),
  merged: z.boolean().optional().describe("Match only merged (true) or only unmerged (false) pull requests."),
  tag: StringFilter.optional().describe("Release tag."),
  target_branch: StringFilter.optional().describe("Branch the release's tag is created from."),
  workflow: StringFilter.optional().describe('Name of the workflow whose run it is, e.g. "Deploy".'),
  conclusion: StringFilter.optional().describe("Conclusion of the workflow run: success, failure, cancelled, skipped, timed_out, ..."),
  branch: StringFilter.optional().describe("Branch the workflow run ran on (its head branch)."),
  environment: StringFilter.optional().describe('Environment of the deployment, e.g. "production".'),
  state: StringFilter.optional().describe("State of the deployment status: success, failure, error, in_progress, ..."),
});

/** Filters whose plain values must be among the words GitHub uses, so a typo is an error rather than a routine that never fires. */
const KNOWN_VALUES: Partial<Record<string, { what: string; values: readonly string[] }>> = {
  conclusion: { what: "workflow run conclusion", values: WORKFLOW_CONCLUSIONS },
  state: { what: "deployment state", values: DEPLOYMENT_STATES },
};

/** Globs of changed files, as GitHub Actions' paths filters write them. */
const PathGlobs = z
  .array(
    z.string().min(1, { error: "must not be empty" }).max(LIMITS.patternLength, { error: `must be at most ${LIMITS.patternLength} characters` }).superRefine((glob, ctx) => {
      try {
        expandBraces(glob.replace(/^!/, ""));
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `glob ${(error as Error).message}` });
      }
    }),
  )
  .min(1, { error: "must list at least one glob" })
  .max(100, { error: "must list at most 100 globs" });

export const GithubTrigger = strict({
  event: z.enum(GITHUB_EVENTS),
  actions: z
    .array(z.string())
    .min(1, { error: "must list at least one action" })
    .optional()
    .describe("Event actions that fire the routine. Default: opened, synchronize, reopened, ready_for_review for pull_request; published for release; opened, reopened for issues; completed for workflow_run; created for deployment_status."),
  filters: Filters.optional().describe("All given filters must match."),
  forks: z.boolean().optional().describe("Also fire for pull requests from forks (their runs get no secrets). Default: false."),
  paths: PathGlobs.optional().describe('Fire only when a changed file of the pull request matches one of these globs, e.g. "docs/**"; a pattern starting with ! excludes what earlier ones matched.'),
  paths_ignore: PathGlobs.optional().describe("Do not fire when every changed file of the pull request matches one of these globs."),
}).superRefine(onMap((trigger, ctx) => {
  const event = trigger.event;
  if (typeof event !== "string" || !Object.hasOwn(ACTIONS_BY_EVENT, event)) return;
  const known = ACTIONS_BY_EVENT[event as GithubEventName];
  const actions: unknown[] = Array.isArray(trigger.actions) ? trigger.actions : [];
  actions.forEach((action, index) => {
    if (typeof action === "string" && !known.includes(action)) {
      ctx.addIssue({ code: "custom", path: ["actions", index], message: `unknown ${event} action ${quote(action)}; use one of ${known.join(", ")}` });
    }
  });
  const applicable = FILTERS_BY_EVENT[event as GithubEventName];
  const filters = isRecord(trigger.filters) ? trigger.filters : {};
  for (const key of Object.keys(filters)) {
    if (!applicable.includes(key) && Object.hasOwn(Filters.shape, key)) {
      ctx.addIssue({ code: "custom", path: ["filters", key], message: `filter ${key} does not apply to ${event} events; use ${applicable.join(", ")}` });
      continue;
    }
    const vocabulary = KNOWN_VALUES[key];
    const value: unknown = filters[key];
    const patterns: unknown[] = Array.isArray(value) ? value : [value];
    patterns.forEach((pattern, index) => {
      // Only plain words (negated or not) are checked: globs and regular expressions may match anything.
      const word = typeof pattern === "string" ? /^!?([a-z_]+)$/.exec(pattern)?.[1] : undefined;
      if (vocabulary && word !== undefined && !vocabulary.values.includes(word)) {
        ctx.addIssue({ code: "custom", path: ["filters", key, ...(Array.isArray(value) ? [index] : [])], message: `unknown ${vocabulary.what} ${quote(word)}; use one of ${vocabulary.values.join(", ")}` });
      }
    });
  }
  if (event !== "pull_request") {
    for (const key of ["forks", "paths", "paths_ignore"] as const) {
      if (trigger[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `${key} applies only to pull_request events` });
    }
  }
  if (trigger.paths !== undefined && trigger.paths_ignore !== undefined) {
    ctx.addIssue({ code: "custom", path: ["paths_ignore"], message: "use paths or paths_ignore, not both; paths can exclude with ! patterns, e.g. [\"src/**\", \"!src/**/*.md\"]" });
  }
}), always);

export const SCHEDULE_PRESETS = ["hourly", "daily", "weekdays", "weekly"] as const;
export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export const ScheduleTrigger = strict({
  preset: z.enum(SCHEDULE_PRESETS).optional().describe("A recurring schedule: hourly, daily, weekdays (Monday to Friday) or weekly."),
  time: z.string().regex(TIME, { error: 'must be a 24-hour time such as "09:00"' }).optional().describe('Time of day for daily, weekdays and weekly, as "HH:MM".'),
  minute: z.number().int().min(0).max(59, { error: "must be a whole number from 0 to 59" }).optional().describe("Minute past the hour for hourly. Default: 0."),
  day: z.enum(WEEKDAYS).optional().describe("Day of the week for weekly. Default: monday."),
  cron: z.string().superRefine((expression, ctx) => {
    const problem = cronProblem(expression);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }).optional().describe('A five-field cron expression, e.g. "0 9 * * 1-5".'),
  at: z.string().optional().describe('A one-off time, e.g. "2026-12-01T09:00" (in timezone) or "2026-12-01T08:00:00Z".'),
  timezone: z.string().refine(isValidTimeZone, { error: 'must be an IANA time zone such as "Europe/Berlin" or "UTC"' }).optional().describe("IANA time zone of time, cron and at. Default: UTC."),
}).superRefine(onMap((schedule, ctx) => {
  const kinds = (["preset", "cron", "at"] as const).filter((key) => schedule[key] !== undefined);
  if (kinds.length === 0) {
    ctx.addIssue({ code: "custom", message: "needs one of preset, cron or at" });
  } else if (kinds.length > 1) {
    ctx.addIssue({ code: "custom", path: [kinds[1]!], message: `use only one of preset, cron or at (found ${kinds.join(" and ")})` });
  }
  const preset = schedule.preset;
  const allowed = new Set<string>(["timezone", ...kinds]);
  if (preset === "hourly") allowed.add("minute");
  if (preset === "daily" || preset === "weekdays" || preset === "weekly") allowed.add("time");
  if (preset === "weekly") allowed.add("day");
  for (const key of ["time", "minute", "day"] as const) {
    if (schedule[key] !== undefined && !allowed.has(key)) {
      const usage = { time: "daily, weekdays and weekly presets", minute: "the hourly preset", day: "the weekly preset" }[key];
      ctx.addIssue({ code: "custom", path: [key], message: `${key} applies only to ${usage}` });
    }
  }
  if (allowed.has("time") && schedule.time === undefined) {
    ctx.addIssue({ code: "custom", path: ["preset"], message: `preset ${String(preset)} needs a time, e.g. time: "09:00"` });
  }
  if (typeof schedule.at === "string") {
    const zone = typeof schedule.timezone === "string" && isValidTimeZone(schedule.timezone) ? schedule.timezone : "UTC";
    if (parseAt(schedule.at, zone) === undefined) {
      ctx.addIssue({ code: "custom", path: ["at"], message: `invalid time ${quote(schedule.at)}: use an ISO 8601 date and time such as "2026-12-01T09:00" or "2026-12-01T08:00:00Z"` });
    }
  }
}), always);

export const ApiTrigger = strict({})
  .nullable()
  .describe("Fire through POST /api/v1/routines/<trigger-id>/fire with a bearer token (see `routines token create`).");

export const CommandTrigger = z
  .union([
    Name,
    strict({
      name: Name.optional().describe("Name used in `/routine run <name>`. Default: the routine's name."),
      issues: z.boolean().optional().describe("Also accept the command in issue comments, not only on pull requests. Default: false."),
    }),
  ])
  .nullable()
  .describe("Rerun from a pull request comment: `/routine run <name> [extra instructions]`.");

const TRIGGER_KINDS = ["github", "schedule", "api", "command"] as const;
const TRIGGER_EXAMPLES: Record<string, string> = { github: "{ event: pull_request }", schedule: '{ preset: daily, time: "09:00" }', api: "{}", command: "{}" };

/** `- api` for `- api: {}` is the likeliest trigger that is not a map: say how to write it. */
function triggerNotAMap(issue: z.core.$ZodRawIssue): string | undefined {
  const kind = issue.input;
  if (issue.code !== "invalid_type" || typeof kind !== "string" || !Object.hasOwn(TRIGGER_EXAMPLES, kind)) return undefined;
  return `expected a map, got "${kind}"; write "- ${kind}: ${TRIGGER_EXAMPLES[kind]}"`;
}

export const Trigger = z.strictObject({
  github: GithubTrigger.optional(),
  schedule: ScheduleTrigger.optional(),
  api: ApiTrigger.optional(),
  command: CommandTrigger.optional(),
}, { error: triggerNotAMap }).superRefine(onMap((trigger, ctx) => {
  const kinds = TRIGGER_KINDS.filter((kind) => Object.hasOwn(trigger, kind));
  if (kinds.length === 0) {
    ctx.addIssue({ code: "custom", message: `a trigger needs one of ${TRIGGER_KINDS.join(", ")}` });
  } else if (kinds.length > 1) {
    ctx.addIssue({ code: "custom", path: [kinds[1]!], message: `one kind per trigger: split ${kinds.join(" and ")} into separate list items` });
  }
}), always).meta({ minProperties: 1, maxProperties: 1 });

// ---------------------------------------------------------------------------------------------
// Routines and the file

// "." and ".." are no repository's names, and would name directories of the checkout.
const REPOSITORY = /^(self|[A-Za-z0-9][A-Za-z0-9-]*\/(?!\.\.?$)[A-Za-z0-9._-]+)$/;

const Dollars = z.number().positive({ error: "must be an amount of dollars above 0, e.g. 5 or 0.5" });

/** Path globs of changed files, as the `paths` filter writes them; `!` before a glob reviews what matches it after all. */
const SkipGlob = z
  .string()
  .min(1, { error: "must not be empty" })
  .refine(
    (glob) => {
      try {
        return expandBraces(glob.replace(/^!/, "")).length > 0;
      } catch {
        return false;
      }
    },
    { error: "must be a path glob such as \"docs/**\" or \"**/*.snap\", with {…} alternatives expanding to at most 64 globs" },
  );

const Review = strict({
  skip: z
    .array(SkipGlob)
    .max(100, { error: "at most 100 globs" })
    .optional()
    .describe(
      'Path globs of changed files the review skips, on top of the default list (lock files, minified and source-map files, files .gitattributes marks linguist-generated or linguist-vendored, vendor/ and node_modules/ directories). A glob starting with "!" reviews what it matches after all, e.g. "!vendor/our-fork/**". The review\'s coverage line names every file skipped.',
    ),
  verify: z
    .boolean()
    .optional()
    .describe("Before the review is posted, each inline finding goes through a second, cheap model call that sees the finding and the code around it and confirms or rejects it; rejected findings are not posted (the transcript keeps them, with the reason). Its cost counts in the run's budget. Default: false."),
  verify_model: z.string().min(1).optional().describe("The model that checks findings with verify: true. Default: claude-haiku-4-5."),
});

export const Routine = strict({
  description: z.string().optional(),
  prompt: z.string().trim().min(1, { error: "must not be empty" }).optional().describe("What the agent should do."),
  prompt_file: z
    .string()
    .refine((path) => !path.startsWith("/") && !path.split("/").includes(".."), { error: "must be a path inside the repository, e.g. .claude/prompts/review.md" })
    .optional()
    .describe("A file in the repository holding the prompt, read from the default branch."),
  repositories: z
    .array(z.string().regex(REPOSITORY, { error: 'must be "self" or "owner/name"' }))
    .min(1, { error: "must list at least one repository" })
    .optional()
    .describe('Repositories checked out for the session: "self" (this one) or "owner/name" of the same account, which must share itself with this repository (share_with in its own routines.yml). Default: [self].'),
  environment: Name.optional().describe("Name of an environment defined under environments. Default: the one named default, else network: trusted."),
  connectors: z.array(Name).optional().describe("MCP connectors the session gets. Default: all available to the repository."),
  model: z.string().min(1).optional().describe("Model name. Default: set by the operator."),
  max_turns: z.number().int().min(1).max(1000, { error: "must be a whole number from 1 to 1000" }).optional().describe("Most model turns in one run. Default: 100."),
  max_github_writes: z
    .number()
    .int()
    .min(0, { error: "must be a whole number, 0 or more" })
    .optional()
    .describe("Most GitHub writes (comments, reviews, issues, labels, assignments, closing or reopening, pull requests) the tools make in one run; more are refused and the run goes on. Default: 20; at most what the server allows (ROUTINES_MAX_GITHUB_WRITES, default 100)."),
  budget: strict({
    run_usd: Dollars.optional().describe("Most dollars the model calls of one run may cost; the run stops before a call that could go over. Default: set by the operator (ROUTINES_BUDGET_RUN_USD)."),
    run_tokens: z.number().int().min(1, { error: "must be a whole number, 1 or more" }).optional().describe("Most tokens (input, cache reads and writes, output) the model calls of one run may use."),
    daily_usd: Dollars.optional().describe("Most dollars the routine's runs in this repository may cost in 24 hours; new runs are rejected once it is spent. Default: set by the operator (ROUTINES_BUDGET_DAILY_USD)."),
  })
    .optional()
    .describe("What the routine may spend on the model. At most what the server allows (ROUTINES_BUDGET_MAX_RUN_USD, ROUTINES_BUDGET_MAX_DAILY_USD)."),
  timeout: Duration.optional().describe('Wall-clock limit of one run. Default: "30m".'),
  allow_unrestricted_branch_pushes: z.boolean().optional().describe("Allow pushes to branches outside claude/. Default: false."),
  status_comment: z
    .boolean()
    .optional()
    .describe("Keep one status comment per pull request that the routine's runs edit as they go (queued, running, finished with outcome, summary, cost and a link). Default: true; runs not on a pull request have none."),
  review: Review.optional().describe("How the routine reviews pull requests: which changed files it skips, and whether each inline finding is checked before it is posted."),
  triggers: z.array(Trigger).optional().describe("What starts the routine. Without triggers it runs only on demand."),
}).superRefine(onMap((routine, ctx) => {
  const has = (key: string) => routine[key] !== undefined;
  if (!has("prompt") && !has("prompt_file")) {
    ctx.addIssue({ code: "custom", message: "needs prompt or prompt_file" });
  } else if (has("prompt") && has("prompt_file")) {
    ctx.addIssue({ code: "custom", path: ["prompt_file"], message: "use prompt or prompt_file, not both" });
  }
}), always);

// Consent of this repository to take part in other repositories' runs, as GitHub's "Access"
// setting of a repository's actions and reusable workflows names who may use them.
export const SHARE_ACCESS = ["read", "write"] as const;
export type ShareAccess = (typeof SHARE_ACCESS)[number];
const SHARE_TARGET = /^[A-Za-z0-9][A-Za-z0-9-]*\/((?!\.\.?$)[A-Za-z0-9._-]+|\*)$/;
const ShareTarget = z.string().regex(SHARE_TARGET, { error: 'must be "owner/name" or "owner/*"' });

export const Share = z
  .union([
    ShareTarget,
    strict({
      repository: ShareTarget.describe('A repository, "owner/name", or all of an owner\'s, "owner/*".'),
      access: z.enum(SHARE_ACCESS).optional().describe("read: its runs check this repository out read-only; write: they may also push claude/ branches and open pull requests here. Default: read."),
    }),
  ])
  .describe('A repository ("owner/name") or all of an owner\'s ("owner/*") whose routines may check this one out read-only, or { repository, access: write }.');

export const RoutinesFile = strict({
  version: z.literal(1).describe("Version of this file's format. Always 1."),
  environments: z.record(Name, Environment).optional().describe("Named environments that routines refer to."),
  // Required unless the file only shares the repository (see validate.ts and the anyOf above).
  routines: z.record(Name, Routine).optional().describe("Routines keyed by name."),
  share_with: z
    .array(Share)
    .optional()
    .describe("Repositories whose routines may list this one under repositories; no other repository's run gets it. Default: none."),
}).meta({ title: "Routines configuration (.claude/routines.yml)", anyOf: [{ required: ["routines"] }, { required: ["share_with"] }] });

export type Environment = z.output<typeof Environment>;
export type GithubTrigger = z.output<typeof GithubTrigger>;
export type ScheduleTrigger = z.output<typeof ScheduleTrigger>;
export type CommandTrigger = z.output<typeof CommandTrigger>;
export type Trigger = z.output<typeof Trigger>;
export type Routine = z.output<typeof Routine>;
export type ReviewSettings = z.output<typeof Review>;
export type RoutinesFile = z.output<typeof RoutinesFile>;
export type Share = z.output<typeof Share>;
