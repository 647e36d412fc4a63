// Filter patterns: `!` negates, `/…/flags` is a regular expression, anything else is a glob.
// Branch and tag globs follow minimatch (`*` stops at `/`, `**` crosses it); in text (logins,
// titles, bodies, labels) `*` matches any text, `?` one character, and `[bot]` is literal.
import { minimatch } from "minimatch";

export type PatternKind = "path" | "text";

const REGEX = /^\/(.*)\/([a-z]*)$/s;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function textGlob(glob: string, value: string, ignoreCase: boolean): boolean {
  const source = glob.split("*").map((part) => part.split("?").map(escape).join(".")).join(".*");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

// A leading `#` is a branch name (`#123-fix`), not a comment, and `!` is negated by
// patternMismatch alone: minimatch must read both as literal characters.
const pathGlob = (glob: string, value: string, ignoreCase: boolean) =>
  minimatch(value, glob, { dot: true, nocase: ignoreCase, nocomment: true, nonegate: true });

/** Whether `value` matches the pattern's positive form (its `!` is handled by patternMismatch). */
function matchesBody(body: string, value: string, kind: PatternKind, ignoreCase: boolean): boolean {
  const regex = REGEX.exec(body);
  if (regex) return new RegExp(regex[1]!, regex[2]).test(value);
  return kind === "path" ? pathGlob(body, value, ignoreCase) : textGlob(body, value, ignoreCase);
}

/**
 * `feature/**` for `feature/*` when only the `/` in `value` kept the glob from matching: every
 * `*` that is a whole path segment becomes `**`, which crosses `/`.
 */
function acrossSlashes(glob: string, value: string, ignoreCase: boolean): string | undefined {
  if (REGEX.test(glob) || !value.includes("/")) return undefined;
  const wider = glob.split("/").map((segment) => (segment === "*" ? "**" : segment)).join("/");
  return wider !== glob && pathGlob(wider, value, ignoreCase) ? wider : undefined;
}

export interface PatternOptions {
  kind: PatternKind;
  ignoreCase?: boolean;
}

/**
 * Why `value` fails the patterns, or undefined when it matches: it must match one of the positive
 * patterns (if any) and none of the negated ones, so ["main", "!main-old"] and
 * ["!dependabot[bot]", "!renovate[bot]"] both read as people mean them.
 */
export function patternMismatch(value: string, patterns: string | readonly string[], options: PatternOptions): string | undefined {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  const ignoreCase = options.ignoreCase ?? false;
  const excluded = list.find((pattern) => pattern.startsWith("!") && matchesBody(pattern.slice(1), value, options.kind, ignoreCase));
  if (excluded !== undefined) return `is excluded by "${excluded}"`;
  const positive = list.filter((pattern) => !pattern.startsWith("!"));
  if (positive.length === 0 || positive.some((pattern) => matchesBody(pattern, value, options.kind, ignoreCase))) return undefined;
  const mismatch = positive.length === 1 ? `does not match "${positive[0]}"` : `does not match any of ${positive.map((p) => `"${p}"`).join(", ")}`;
  if (options.kind !== "path") return mismatch;
  const wider = positive.map((pattern) => acrossSlashes(pattern, value, ignoreCase)).find((glob) => glob !== undefined);
  return wider === undefined ? mismatch : `${mismatch} (* stops at "/": use "${wider}" to match across "/")`;
}
