// Validates the text of a .claude/routines.yml: every problem at once, each at its line and
// column, and the routines that are valid despite problems elsewhere in the file.
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { crossChecks, type BudgetCeilings } from "./checks.js";
import { LIMITS } from "./limits.js";
import { createLocator } from "./locate.js";
import { byPosition, isError, oneLine, type ConfigPath, type Problem } from "./problem.js";
import { Environment, Name, NAME, Routine, RoutinesFile, Share } from "./schema.js";
import { shareGrants, type ShareGrant } from "./share-with.js";
import { describeValue, issueMessage, toProblems } from "./zod-issues.js";

export const DEFAULT_MIN_SCHEDULE_INTERVAL = 60 * 60 * 1000;
/** The most GitHub writes per run a routine may ask for, unless the server says otherwise. */
export const DEFAULT_MAX_GITHUB_WRITES_CEILING = 100;

export interface ValidateOptions {
  /** The clock against which one-off times are checked. Default: now. */
  now?: Date;
  /** Shortest allowed gap between runs of a schedule, in milliseconds. Default: one hour. */
  minScheduleInterval?: number;
  /** The most max_github_writes a routine may ask for (ROUTINES_MAX_GITHUB_WRITES). Default: 100. */
  maxGithubWrites?: number;
  /** The most a routine's budget may allow (ROUTINES_BUDGET_MAX_RUN_USD, ROUTINES_BUDGET_MAX_DAILY_USD). Default: no ceiling. */
  budgetCeilings?: BudgetCeilings;
}

/** Validation as the server runs it: off the event loop, with a time budget (see validate-off-thread.ts). */
export type ValidateConfig = (source: string, options: ValidateOptions) => Promise<RoutinesConfig>;

/** Validation on the calling thread, for the CLI and tests. */
export const validateInThread: ValidateConfig = async (source, options) => validateRoutines(source, options);

export interface RoutinesConfig {
  /** Routines without errors whose environment is valid too. */
  routines: Record<string, Routine>;
  environments: Record<string, Environment>;
  /** The repositories this one shares itself with (its valid share_with entries). */
  shareWith: ShareGrant[];
  /** All problems in the file, in source order. */
  problems: Problem[];
}

// Each environment and routine is parsed on its own, so one broken entry leaves the others usable.
const Root = RoutinesFile.extend({
  environments: z.record(Name, z.unknown()).optional(),
  routines: z.record(Name, z.unknown()).optional(),
  share_with: z.array(z.unknown()).optional(),
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function validateRoutines(source: string, options: ValidateOptions = {}): RoutinesConfig {
  const result: RoutinesConfig = { routines: {}, environments: {}, shareWith: [], problems: [] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    result.problems = doc.errors.map((error) => {
      const [start] = error.linePos ?? [{ line: 1, col: 1 }];
      // The first line of yaml's message, which may quote a long stretch of the file.
      const message = oneLine(error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""), 160);
      return { line: start.line, col: start.col, path: [], message: `YAML syntax error: ${message}`, severity: "error" as const };
    });
    return result;
  }

  const locate = createLocator(doc, lineCounter);
  const fail = (message: string, path: ConfigPath = []) => {
    result.problems.push({ ...locate(path), path, message, severity: "error" });
    return result;
  };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    return fail(`the YAML cannot be read: ${(cause as Error).message}`);
  }
  if (raw === null || raw === undefined) return fail("the file is empty; it needs version: 1 and routines");
  if (!isRecord(raw)) return fail(`expected a map with version and routines, got ${describeValue(raw)}`);

  const parse = (schema: z.ZodType, value: unknown, path: ConfigPath) => {
    const parsed = schema.safeParse(value, { error: issueMessage });
    if (!parsed.success) result.problems.push(...toProblems(parsed.error.issues, path, value, locate));
    return parsed;
  };

  // A file past the caps is refused whole, before its entries cost anything.
  const size = sizeProblem(raw.routines);
  if (size) return fail(size, ["routines"]);

  parse(Root, raw, []);
  // A repository that only shares itself needs no routines; any other file does.
  if (!Object.hasOwn(raw, "routines") && !Object.hasOwn(raw, "share_with")) fail('missing required key "routines"');
  // Entries with an invalid name are parsed too, so the name does not hide their other problems;
  // the name's own problem (reported by Root) keeps them from being used.
  const entries = (value: unknown) => Object.entries(isRecord(value) ? value : {});

  for (const [name, value] of entries(raw.environments)) {
    const parsed = parse(Environment, value, ["environments", name]);
    if (parsed.success && NAME.test(name)) result.environments[name] = parsed.data as Environment;
  }
  const shares: Share[] = [];
  (Array.isArray(raw.share_with) ? raw.share_with : []).forEach((value: unknown, index) => {
    const parsed = parse(Share, value, ["share_with", index]);
    if (parsed.success) shares.push(parsed.data as Share);
  });
  const candidates = new Map<string, Routine>();
  for (const [name, value] of entries(raw.routines)) {
    const parsed = parse(Routine, value, ["routines", name]);
    if (parsed.success && NAME.test(name)) candidates.set(name, parsed.data as Routine);
  }

  result.problems.push(
    ...crossChecks(raw, locate, {
      now: options.now ?? new Date(),
      minScheduleInterval: options.minScheduleInterval ?? DEFAULT_MIN_SCHEDULE_INTERVAL,
      maxGithubWrites: options.maxGithubWrites ?? DEFAULT_MAX_GITHUB_WRITES_CEILING,
      ...(options.budgetCeilings ? { budgetCeilings: options.budgetCeilings } : {}),
    }),
  );
  result.problems.sort(byPosition);

  const errors = result.problems.filter(isError);
  const broken = (prefix: ConfigPath) => errors.some((problem) => prefix.every((segment, i) => problem.path[i] === segment));
  // Without the version this server reads, the file may mean something else: run nothing from it.
  if (raw.version !== 1) return result;
  // Each entry on its own: a broken one shares nothing, the others still do.
  result.shareWith = shareGrants(shares);
  for (const [name, routine] of candidates) {
    const environment = routine.environment ?? (isRecord(raw.environments) && Object.hasOwn(raw.environments, "default") ? "default" : undefined);
    const environmentBroken = environment !== undefined && !Object.hasOwn(result.environments, environment);
    if (!broken(["routines", name]) && !environmentBroken) result.routines[name] = routine;
  }
  return result;
}

/** Why the file has too many routines or triggers to be read, or undefined. */
function sizeProblem(routines: unknown): string | undefined {
  if (!isRecord(routines)) return undefined;
  const count = Object.keys(routines).length;
  if (count > LIMITS.routinesPerFile) return `${count} routines; the limit is ${LIMITS.routinesPerFile} per file`;
  const triggers = Object.values(routines).reduce<number>((sum, routine) => sum + (isRecord(routine) && Array.isArray(routine.triggers) ? routine.triggers.length : 0), 0);
  if (triggers > LIMITS.triggersPerFile) return `${triggers} triggers; the limit is ${LIMITS.triggersPerFile} per file, all routines together`;
  return undefined;
}
