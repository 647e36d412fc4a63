import { join } from "node:path";
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { MissingPathError, openInside } from "../paths.js";
import { Matcher, MatchStopped, prepareMatchers } from "./matcher.js";
import { SEARCH_LIMITS, SearchBudget, under, walkTree, type SearchLimits } from "./walk-tree.js";

const MAX_RESULTS = 500;
const MAGIC = /[*?[\]{}()!+@\\]/;

/**
 * Where a glob can match: the directory its leading literal names lead to, how many levels below
 * it (undefined: any), and the pattern as matched against paths relative to where it starts.
 */
export function globScope(pattern: string): { pattern: string; prefix: string[]; depth: number | undefined } {
  const normalized = pattern.replace(/^(\.\/)+/, "");
  const names = normalized.split("/");
  if (normalized.startsWith("/") || names.includes("..")) {
    throw new ToolError(`${pattern} leads out of where the search starts: patterns are relative to path, which chooses the directory`);
  }
  const prefix: string[] = [];
  while (prefix.length < names.length - 1 && !MAGIC.test(names[prefix.length]!) && names[prefix.length] !== "") prefix.push(names[prefix.length]!);
  const unbounded = normalized.includes("**") || normalized.includes("{");
  return { pattern: normalized, prefix, depth: unbounded ? undefined : names.length - prefix.length - 1 };
}

/** The glob tool, with the caps of one search (the server's own unless a test narrows them). */
export function globTool(limits: SearchLimits = SEARCH_LIMITS): Tool {
  return defineTool({
    name: "glob",
    readOnly: true,
    prepare: () => prepareMatchers(),
    description: [
      `Find files by glob pattern, e.g. "src/**/*.ts" (at most ${MAX_RESULTS} paths, sorted). .git and node_modules are skipped, and symbolic links are not followed.`,
      `One search looks at up to ${limits.maxEntries} files and directories for up to ${limits.timeMs / 1000}s, and says when it stopped early.`,
    ].join(" "),
    input: z.object({
      pattern: z.string().min(1).describe("A glob pattern relative to the repository root (or to path)."),
      path: z.string().optional().describe("A directory to search in, relative to the repository root."),
    }),
    async execute({ pattern, path = "." }, { root, signal }) {
      const scope = globScope(pattern);
      const start = await openInside(root, join(path, ...scope.prefix), "directory").catch((error: unknown) => {
        if (error instanceof MissingPathError && scope.prefix.length > 0) return undefined;
        throw error;
      });
      if (!start) return `No files match ${pattern}.`;
      const budget = new SearchBudget(limits, signal);
      const matcher = new Matcher({ glob: scope.pattern }, budget.signal);
      const found: string[] = [];
      try {
        await walkTree(start, budget, scope.depth ?? limits.maxDepth, async (dir, files) => {
          const paths = files.map((name) => under(start.path, dir, name, scope.prefix));
          budget.matching = "the paths";
          const selected = await matcher.select(paths);
          budget.matching = undefined;
          paths.forEach((path, i) => selected[i] && found.push(path));
        });
      } catch (error) {
        if (!(error instanceof MatchStopped)) throw error;
      } finally {
        await matcher.close();
        await start.close();
      }
      const note = budget.note("Narrow it with path or a more specific pattern.");
      if (found.length === 0) return `No files match ${pattern}.${note}`;
      const shown = found.sort().slice(0, MAX_RESULTS).join("\n");
      return (found.length > MAX_RESULTS ? `${shown}\n[${found.length - MAX_RESULTS} more not shown; narrow the pattern]` : shown) + note;
    },
  });
}

export const glob = globTool();
