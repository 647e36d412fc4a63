// Which github triggers a repository event fires, and for every one that it does not
// fire, the first reason why: the answer to "why didn't it run?".
import { LIMITS } from "../config/limits.js";
import { DEFAULT_ACTIONS, type GithubTrigger, type Routine } from "../config/schema.js";
import { matchPathGlob } from "../config/globs.js";
import { StepBudget, StepBudgetExceeded } from "../config/step-budget.js";
import type { EventFacts } from "./event-facts.js";
import { patternMismatch, type PatternKind } from "./patterns.js";

export interface TriggerRef {
  routine: string;
  /** Index of the trigger in the routine's `triggers` list. */
  trigger: number;
}

export interface EventMatch {
  matched: TriggerRef[];
  skipped: Array<TriggerRef & { reason: string }>;
}

type Filters = NonNullable<GithubTrigger["filters"]>;
type LabelFilter = NonNullable<Filters["labels"]>;

const TEXT_FILTERS: Array<[keyof EventFacts["text"], PatternKind, boolean]> = [
  // [filter, glob kind, case-insensitive]: GitHub logins ignore case.
  ["author", "text", true],
  ["title", "text", false],
  ["body", "text", false],
  ["base_branch", "path", false],
  ["head_branch", "path", false],
  ["tag", "path", false],
  ["target_branch", "path", false],
  ["workflow", "text", false],
  ["conclusion", "text", true],
  ["branch", "path", false],
  // GitHub's environment names ignore case.
  ["environment", "text", true],
  ["state", "text", true],
];

const asList = (value: string | string[]) => (typeof value === "string" ? [value] : value);
const quoteList = (values: string[]) => (values.length > 0 ? values.map((value) => `"${value}"`).join(", ") : "no labels");

function labelMismatch(labels: string[], filter: LabelFilter, budget?: StepBudget): string | undefined {
  const spec = typeof filter === "string" || Array.isArray(filter) ? { any: filter } : filter;
  const has = (pattern: string) => labels.some((label) => patternMismatch(label, pattern, { kind: "text", ignoreCase: true, ...(budget ? { budget } : {}) }) === undefined);
  const any = spec.any === undefined ? [] : asList(spec.any);
  if (any.length > 0 && !any.some(has)) return `labels (${quoteList(labels)}) include none of ${quoteList(any)}`;
  const missing = (spec.all === undefined ? [] : asList(spec.all)).find((pattern) => !has(pattern));
  if (missing !== undefined) return `labels (${quoteList(labels)}) lack "${missing}"`;
  const unwanted = (spec.none === undefined ? [] : asList(spec.none)).find(has);
  if (unwanted !== undefined) return `labels (${quoteList(labels)}) include "${unwanted}", which is excluded`;
  return undefined;
}

/** Whether a path is selected by globs read in order: a glob selects, a `!glob` deselects (GitHub Actions' rule). */
function selectedBy(path: string, globs: readonly string[], budget?: StepBudget): boolean {
  let selected = false;
  for (const glob of globs) {
    const negated = glob.startsWith("!");
    if (matchPathGlob(negated ? glob.slice(1) : glob, path, budget ? { budget } : {})) selected = !negated;
  }
  return selected;
}

const shown = (globs: readonly string[]) => globs.map((glob) => `"${glob}"`).join(", ");

/** Why the pull request's changed files do not fire the trigger's paths or paths_ignore, or undefined when they do. */
function changedFilesMismatch(trigger: GithubTrigger, facts: EventFacts, budget?: StepBudget): string | undefined {
  const { paths, paths_ignore: ignored } = trigger;
  if (paths === undefined && ignored === undefined) return undefined;
  const changed = facts.changedFiles;
  if (changed === undefined) return "paths filters need the pull request's changed files, which were not given";
  // As GitHub Actions does: when the list of files is cut short, paths filters do not hold a run back.
  if (!changed.complete) return undefined;
  if (paths !== undefined && !changed.paths.some((path) => selectedBy(path, paths, budget))) {
    return `${changed.paths.length === 1 ? "the changed file does not match" : `none of the ${changed.paths.length} changed files matches`} paths ${shown(paths)}`;
  }
  if (ignored !== undefined && changed.paths.every((path) => selectedBy(path, ignored, budget))) {
    return `${changed.paths.length === 1 ? "the changed file matches" : `all ${changed.paths.length} changed files match`} paths_ignore ${shown(ignored)}`;
  }
  return undefined;
}

const actionsOf = (trigger: GithubTrigger): readonly string[] => trigger.actions ?? DEFAULT_ACTIONS[trigger.event];

/** Why the event does not fire the trigger, its changed files aside; undefined when only they are left to check. */
function mismatchBeforeFiles(trigger: GithubTrigger, facts: EventFacts, budget?: StepBudget): string | undefined {
  if (trigger.event !== facts.event) return `listens to ${trigger.event} events`;
  const actions = actionsOf(trigger);
  if (!actions.includes(facts.action)) return `action "${facts.action}" is not one of ${actions.join(", ")}`;
  const fork = facts.pullRequest?.fork;
  if (fork !== undefined && !trigger.forks) return `the pull request comes from a fork (${fork}); set forks: true to run on forks, without secrets`;
  if (facts.foreignHead !== undefined) return `the workflow run is for a commit of ${facts.foreignHead}, not of this repository; workflow_run triggers fire only for the repository's own commits`;

  const filters: Filters = trigger.filters ?? {};
  for (const [name, kind, ignoreCase] of TEXT_FILTERS) {
    const patterns = filters[name];
    if (patterns === undefined) continue;
    const value = facts.text[name] ?? "";
    const mismatch = patternMismatch(value, patterns, { kind, ignoreCase, ...(budget ? { budget } : {}) });
    if (mismatch) return `${name} ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)} ${mismatch}`;
  }
  if (filters.labels !== undefined) {
    const mismatch = labelMismatch(facts.labels ?? [], filters.labels, budget);
    if (mismatch) return mismatch;
  }
  for (const flag of ["draft", "merged"] as const) {
    const wanted = filters[flag];
    if (wanted !== undefined && facts[flag] !== wanted) return `${flag} is ${facts[flag] ?? false}, the filter wants ${wanted}`;
  }
  return undefined;
}

/**
 * Why the event does not fire this github trigger, or undefined when it does. With a budget,
 * matching throws StepBudgetExceeded once the event has spent it.
 */
export function githubTriggerMismatch(trigger: GithubTrigger, facts: EventFacts, budget?: StepBudget): string | undefined {
  return mismatchBeforeFiles(trigger, facts, budget) ?? changedFilesMismatch(trigger, facts, budget);
}

const githubTriggerOf = (routines: Record<string, Routine>, { routine, trigger }: TriggerRef) => routines[routine]!.triggers![trigger]!.github!;

/**
 * A file's github triggers by `event.action`, in the file's order. Built once per parsed file and
 * kept as long as it is (the routines cache keeps one per repository), so an event looks at the
 * triggers that listen to it, not at every trigger of the file.
 */
const listenersByFile = new WeakMap<Record<string, Routine>, Map<string, TriggerRef[]>>();

/** The github triggers of the file that listen to the event's name and action. */
export function listeningTriggers(routines: Record<string, Routine>, event: string, action: string): readonly TriggerRef[] {
  let listeners = listenersByFile.get(routines);
  if (!listeners) {
    listeners = new Map();
    for (const [routine, { triggers = [] }] of Object.entries(routines)) {
      triggers.forEach(({ github }, index) => {
        if (!github) return;
        for (const listened of new Set(actionsOf(github))) {
          const key = `${github.event}.${listened}`;
          listeners!.set(key, [...(listeners!.get(key) ?? []), { routine, trigger: index }]);
        }
      });
    }
    listenersByFile.set(routines, listeners);
  }
  return listeners.get(`${event}.${action}`) ?? [];
}

/**
 * Whether one of these triggers filters on the pull request's changed files and the event passes
 * all of its other filters: only then are the files read from GitHub. Its matching steps count
 * against `budget`; once that is spent, none is asked for (matching skips them all anyway).
 */
export function needsChangedFiles(routines: Record<string, Routine>, facts: EventFacts, refs: readonly TriggerRef[], budget?: StepBudget): boolean {
  try {
    return refs.some((ref) => {
      const trigger = githubTriggerOf(routines, ref);
      return (trigger.paths !== undefined || trigger.paths_ignore !== undefined) && mismatchBeforeFiles(trigger, facts, budget) === undefined;
    });
  } catch (error) {
    if (error instanceof StepBudgetExceeded) return false;
    throw error;
  }
}

const allGithubTriggers = (routines: Record<string, Routine>): TriggerRef[] =>
  Object.entries(routines).flatMap(([routine, { triggers = [] }]) => triggers.flatMap(({ github }, index) => (github ? [{ routine, trigger: index }] : [])));

/**
 * The triggers the event fires, of those named (by default every github trigger of the file, each
 * skipped one with its reason). All filters of the file share one budget of matching steps
 * (LIMITS.matchingSteps): once it is spent, the triggers not yet matched are skipped, saying so.
 */
export function matchEvent(
  routines: Record<string, Routine>,
  facts: EventFacts,
  budget = new StepBudget(LIMITS.matchingSteps),
  refs: readonly TriggerRef[] = allGithubTriggers(routines),
): EventMatch {
  const result: EventMatch = { matched: [], skipped: [] };
  let exhausted: StepBudgetExceeded | undefined;
  for (const { routine, trigger: index } of refs) {
    if (exhausted) {
      result.skipped.push({ routine, trigger: index, reason: `not matched: the file's filters ${exhausted.message} on this event; simplify them` });
      continue;
    }
    let reason: string | undefined;
    try {
      reason = githubTriggerMismatch(githubTriggerOf(routines, { routine, trigger: index }), facts, budget);
    } catch (error) {
      if (!(error instanceof StepBudgetExceeded)) throw error;
      exhausted = error;
      reason = `not matched: the file's filters ${error.message} on this event; simplify them`;
    }
    if (reason === undefined) result.matched.push({ routine, trigger: index });
    else result.skipped.push({ routine, trigger: index, reason });
  }
  return result;
}
