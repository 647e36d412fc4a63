// The grep tool: ripgrep searches, the server shapes what it found. ripgrep's regular expressions
// run in linear time (a pattern that needs lookaround or backreferences goes to its PCRE2 engine,
// which gives up on a line past its backtracking limit), it skips what .gitignore names and binary
// files, and it runs as a child process confined to the working tree (see ripgrep.ts), so a
// search holds neither the server's thread nor anything outside the tree.
import { posix } from "node:path";
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { openInside } from "../paths.js";
import { globScope } from "./glob.js";
import { prepareRipgrep, runRipgrep } from "./ripgrep.js";
import { SEARCH_LIMITS, SearchBudget, type SearchLimits } from "./walk-tree.js";

const MAX_MATCHES = 300;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const LINE_WIDTH = 300;
/** Matching lines kept to be sorted, and bytes of ripgrep's output read: past either, it is stopped. */
const MAX_KEPT = 20_000;
const MAX_READ = 32 * 1024 * 1024;
const LONG_LINE = / \[\.\.\. (omitted end of long line|\d+ more matches?)\]$/;

interface Match {
  path: string;
  line: number;
  text: string;
}

/** The grep tool, with the caps of one search (the server's own unless a test narrows them). */
export function grepTool(limits: SearchLimits = SEARCH_LIMITS): Tool {
  return defineTool({
    name: "grep",
    readOnly: true,
    prepare: prepareRipgrep,
    description: [
      `Search file contents with a regular expression (ripgrep's syntax, close to JavaScript's; lookarounds and backreferences work too). Returns path:line: text for each matching line, at most ${MAX_MATCHES}.`,
      "Files .gitignore names, binary files, files over 2 MB, .git and node_modules are skipped, and symbolic links are not followed.",
      `One search runs for up to ${limits.timeMs / 1000}s, and says when it stopped early.`,
    ].join(" "),
    input: z.object({
      pattern: z.string().min(1).describe("A regular expression."),
      path: z.string().optional().describe("A file or directory to search, relative to the repository root."),
      include: z.string().optional().describe('A glob of files to search, e.g. "**/*.ts".'),
      ignore_case: z.boolean().optional(),
    }),
    async execute({ pattern, path = ".", include, ignore_case: ignoreCase }, { root, signal }) {
      const scope = include === undefined ? undefined : globScope(include);
      // Opened to learn what the path is and that it stays in the tree; ripgrep then reaches it
      // by the path the links resolved to, in a namespace that holds nothing but the tree.
      const target = await openInside(root, path, "any");
      const isDirectory = target.isDirectory;
      const tooLarge = !isDirectory && target.stats.size > MAX_FILE_BYTES;
      await target.close();
      if (target.path.split("/").some((name) => name.toLowerCase() === ".git")) {
        throw new ToolError(`${path} is inside a .git directory, which grep does not search; use git commands in the shell`);
      }
      // ripgrep skips large files it finds, not one it is given.
      if (tooLarge) return `No matches for /${pattern}/.\n[${target.shown} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB, which grep does not search: view it a range at a time, or search it in the shell.]`;
      const cwd = isDirectory ? target.path : posix.dirname(target.path) === "." ? "" : posix.dirname(target.path);
      const budget = new SearchBudget(limits, signal);
      const args = [
        "--null",
        "--line-number",
        "--with-filename",
        "--no-heading",
        "--color=never",
        "--engine=auto",
        "--hidden",
        "--no-require-git",
        `--max-filesize=${MAX_FILE_BYTES}`,
        `--max-columns=${LINE_WIDTH}`,
        "--max-columns-preview",
        `--max-depth=${limits.maxDepth + 1}`,
        ...(ignoreCase ? ["--ignore-case"] : ["--case-sensitive"]),
        // A file named by path is searched whatever include says, as ripgrep does with a file it is given.
        ...(scope && isDirectory ? [`--glob=/${scope.pattern}`] : []),
        // Last: later globs win, so no include brings these back.
        "--glob=!.git",
        "--glob=!node_modules",
        // The pattern as the value of an option, and the path after --: neither is ever read as an option.
        `--regexp=${pattern}`,
        "--",
        isDirectory ? "." : posix.basename(target.path),
      ];
      const found: Match[] = [];
      let count = 0;
      let read = 0;
      let cut: "kept" | "read" | undefined;
      let pending: Buffer = Buffer.alloc(0);
      const exit = await runRipgrep({
        root,
        cwd,
        args,
        signal: budget.signal,
        onOutput: (chunk) => {
          read += chunk.length;
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
          let start = 0;
          for (;;) {
            const end = pending.indexOf(10, start);
            if (end < 0) break;
            const record = parseRecord(pending.subarray(start, end));
            start = end + 1;
            if (!record) continue;
            count += 1;
            if (found.length < MAX_KEPT) found.push({ ...record, path: posix.join(cwd, record.path) });
          }
          pending = pending.subarray(start);
          if (count > MAX_KEPT) cut = "kept";
          else if (read > MAX_READ) cut = "read";
          return cut === undefined;
        },
      });
      const stopped = budget.stopped;
      if (!stopped && cut === undefined && exit.code === 2 && /regex parse error|error parsing|compile/i.test(exit.stderr) && count === 0) {
        throw new ToolError(`invalid regular expression: ${parseProblem(exit.stderr)}`);
      }
      found.sort(inTreeOrder);
      const shown = found.slice(0, MAX_MATCHES).map(({ path: file, line, text }) => `${file}:${line}: ${text}`);
      const notes: string[] = [];
      if (cut === "kept") notes.push(`The search stopped after ${MAX_KEPT} matching lines: the results may be incomplete. Narrow it with path or include.`);
      if (cut === "read") notes.push(`The search stopped after ${Math.round(MAX_READ / 1024 / 1024)} MB of results: the results may be incomplete. Narrow it with path or include.`);
      if (/match limit|backtrack/i.test(exit.stderr)) notes.push("The pattern was too slow to match on some lines (PCRE2's backtracking limit), which were left out: simplify it (nested repetition such as (a+)+ can take exponential time).");
      const note = budget.note("Narrow it with path or include.") + notes.map((line) => `\n[${line}]`).join("");
      if (shown.length === 0) return `No matches for /${pattern}/.${note}`;
      const more = count - shown.length;
      return (more > 0 ? `${shown.join("\n")}\n[${more} more matches not shown; narrow the search]` : shown.join("\n")) + note;
    },
  });
}

/** One line of ripgrep's output, `path NUL line:text`; undefined for anything else (its notes on binary files). */
function parseRecord(bytes: Buffer): Match | undefined {
  const nul = bytes.indexOf(0);
  if (nul < 0) return undefined;
  const colon = bytes.indexOf(58, nul + 1);
  if (colon < 0) return undefined;
  const line = Number(bytes.toString("latin1", nul + 1, colon));
  if (!Number.isInteger(line)) return undefined;
  const path = bytes.toString("utf8", 0, nul).replace(/^\.\//, "");
  const text = bytes.toString("utf8", colon + 1).replace(/\r$/, "").replace(LONG_LINE, "").slice(0, LINE_WIDTH);
  return { path, line, text };
}

/** ripgrep's words on a pattern neither of its engines compiles, on one line. */
function parseProblem(stderr: string): string {
  const words = stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^~+$/.test(line.trim()))
    .map((line) => line.trim())
    .join(" ");
  return words.length > 600 ? `${words.slice(0, 600)}…` : words;
}

/** The order a walk of the tree meets lines in: a directory's files (sorted) before its subdirectories (sorted), then by line. */
function inTreeOrder(a: Match, b: Match): number {
  if (a.path !== b.path) {
    const x = a.path.split("/");
    const y = b.path.split("/");
    for (let i = 0; ; i++) {
      if (x[i] === y[i]) continue;
      const xFile = i === x.length - 1;
      const yFile = i === y.length - 1;
      if (xFile !== yFile) return xFile ? -1 : 1;
      return x[i]! < y[i]! ? -1 : 1;
    }
  }
  return a.line - b.line;
}

export const grep = grepTool();
