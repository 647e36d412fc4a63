// A problem found in a config file, located at a line and column of its YAML source.

export type ConfigPath = ReadonlyArray<string | number>;

export interface Problem {
  /** 1-based line and column in the file. */
  line: number;
  col: number;
  /** Where in the document the problem is, e.g. ["routines", "review", "timeout"]; empty for syntax errors. */
  path: ConfigPath;
  message: string;
  /** Errors make the part they are in unusable; warnings leave it working. */
  severity: "error" | "warning";
}

/** `routines.review.triggers[0].cron` */
export function formatPath(path: ConfigPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** `file:line:col: [warning: ]path: message`, the form editors and CI logs link from. */
export function formatProblem(file: string, problem: Problem): string {
  const where = problem.path.length > 0 ? `${formatPath(problem.path)}: ` : "";
  const level = problem.severity === "warning" ? "warning: " : "";
  return `${file}:${problem.line}:${problem.col}: ${level}${where}${problem.message}`;
}

/**
 * Text from the file on one line and of bounded length, for a problem's message: a problem is one
 * line of output, and the per-key messages of an unknown-keys issue are split on "\n".
 */
export function oneLine(text: string, max = 80): string {
  const chars = Array.from(text);
  const short = chars.length > max ? `${chars.slice(0, max - 3).join("")}...` : text;
  const escapes: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return short.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (char) => escapes[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export const quote = (text: string, max?: number) => `"${oneLine(text, max)}"`;

export const isError = (problem: Problem) => problem.severity === "error";

export function byPosition(a: Problem, b: Problem): number {
  return a.line - b.line || a.col - b.col;
}
