// Turns zod's issues into problems a user can act on: plain words, one problem per unknown key
// with a "did you mean", and the one branch of a union that the user evidently meant.
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";
import { quote, type ConfigPath, type Problem } from "./problem.js";
import type { Locator } from "./locate.js";

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a map",
  record: "a map",
  array: "a list",
  null: "nothing",
};

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") return quote(value);
  return String(value);
}

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = known.length > 0 ? closest(key, [...known]) : undefined;
  if (suggestion !== undefined && distance(key, suggestion) <= Math.max(2, Math.floor(key.length / 3))) {
    return `unknown key ${quote(key)}; did you mean "${suggestion}"?`;
  }
  return known.length > 0 ? `unknown key ${quote(key)}; expected one of ${known.join(", ")}` : `unknown key ${quote(key)}; this map takes no keys`;
}

/** Per-parse error map: messages for the generic codes; messages set in the schema win over it. */
export function issueMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case "invalid_value": {
      const values = issue.values.map((value) => JSON.stringify(value));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(", ")}`;
      return `must be ${expected}; got ${describeValue(issue.input)}`;
    }
    case "unrecognized_keys": {
      // One line per key, in the order of issue.keys: toProblems splits them to locate each key.
      const shape = (issue.inst?._zod.def as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
      return issue.keys.map((key) => unknownKeyMessage(key, Object.keys(shape))).join("\n");
    }
    case "too_small":
      if (issue.origin === "string") return "must not be empty";
      if (issue.origin === "array") return `must list at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}`;
      return `must be at least ${issue.minimum}`;
    case "too_big":
      return `must be at most ${issue.maximum}`;
    default:
      return undefined;
  }
}

function valueAt(root: unknown, path: ConfigPath): unknown {
  let value = root;
  for (const segment of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/**
 * Problems for the issues of parsing `value`, which sits at `base` in the document.
 * Issue paths are relative to `value`.
 */
export function toProblems(issues: readonly Issue[], base: ConfigPath, value: unknown, locate: Locator): Problem[] {
  const problems: Problem[] = [];
  const add = (relative: ConfigPath, message: string, key = false) => {
    const path = [...base, ...relative];
    problems.push({ ...locate(path, { key }), path, message, severity: "error" });
  };

  const visit = (issue: Issue, prefix: ConfigPath) => {
    const relative = [...prefix, ...(issue.path as ConfigPath)];
    switch (issue.code) {
      case "unrecognized_keys": {
        const lines = issue.message.split("\n");
        issue.keys.forEach((key, index) => add([...relative, key], lines[index] ?? `unknown key ${quote(key)}`, true));
        return;
      }
      case "invalid_key": {
        const key = relative[relative.length - 1];
        add(relative, `invalid name ${quote(String(key))}: ${issue.issues[0]?.message ?? "not allowed"}`, true);
        return;
      }
      case "invalid_union": {
        // The branch whose type matched is the one the user meant; report its problems alone.
        const meant = issue.errors.find((branch) => !branch.some((inner) => inner.code === "invalid_type" && inner.path.length === 0));
        if (meant) {
          for (const inner of meant) visit(inner, relative);
        } else {
          const expected = issue.errors.flatMap((branch) => branch.flatMap((inner) => (inner.code === "invalid_type" ? [TYPE_WORDS[inner.expected] ?? inner.expected] : [])));
          add(relative, `expected ${[...new Set(expected)].join(" or ")}, got ${describeValue(valueAt(value, relative))}`);
        }
        return;
      }
      case "invalid_type":
      case "invalid_value":
        if (valueAt(value, relative) === undefined && relative.length > 0) {
          add(relative.slice(0, -1), `missing required key "${String(relative[relative.length - 1])}"`);
          return;
        }
        add(relative, issue.message);
        return;
      default:
        add(relative, issue.message);
    }
  };

  for (const issue of issues) visit(issue, []);
  return problems;
}
