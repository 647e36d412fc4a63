import { join } from "node:path";
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { MissingPathError, openInside, readHead, type TreeEntry } from "../paths.js";
import { globScope } from "./glob.js";
import { Matcher, MatchStopped } from "./matcher.js";
import { SEARCH_LIMITS, SearchBudget, size, under, walkTree, type SearchLimits } from "./walk-tree.js";

const MAX_MATCHES = 300;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const LINE_WIDTH = 300;

/** The grep tool, with the caps of one search (the server's own unless a test narrows them). */
export function grepTool(limits: SearchLimits = SEARCH_LIMITS): Tool {
  return defineTool({
    name: "grep",
    readOnly: true,
    description: [
      `Search file contents with a regular expression (JavaScript syntax). Returns path:line: text for each matching line, at most ${MAX_MATCHES}.`,
      "Binary files, files over 2 MB, .git and node_modules are skipped, and symbolic links are not followed.",
      `One search looks at up to ${limits.maxEntries} files and directories and ${size(limits.maxBytes)} for up to ${limits.timeMs / 1000}s, and says when it stopped early.`,
    ].join(" "),
    input: z.object({
      pattern: z.string().min(1).describe("A regular expression."),
      path: z.string().optional().describe("A file or directory to search, relative to the repository root."),
      include: z.string().optional().describe('A glob of files to search, e.g. "**/*.ts".'),
      ignore_case: z.boolean().optional(),
    }),
    async execute({ pattern, path = ".", include, ignore_case: ignoreCase }, { root, signal }) {
      let regex: RegExp;
      try {
        regex = new RegExp(pattern, ignoreCase ? "i" : "");
      } catch (error) {
        throw new ToolError(`invalid regular expression: ${(error as Error).message}`);
      }
      const scope = include === undefined ? undefined : globScope(include);
      const target = await openInside(root, path, "any");
      const budget = new SearchBudget(limits, signal);
      const lines = new Matcher({ regex }, budget.signal);
      const files = scope && new Matcher({ glob: scope.pattern }, budget.signal);
      const matches: string[] = [];
      let more = 0;

      const search = async (file: TreeEntry) => {
        if (file.stats.size > MAX_FILE_BYTES || !budget.read(file.stats.size)) return;
        const { bytes, whole } = await readHead(file.handle, MAX_FILE_BYTES);
        if (!whole || bytes.subarray(0, 8000).includes(0)) return;
        budget.matching = file.path;
        const { found, count } = await lines.lines(bytes.toString("utf8"), MAX_MATCHES - matches.length, LINE_WIDTH);
        budget.matching = undefined;
        for (const [line, text] of found) matches.push(`${file.path}:${line}: ${text}`);
        more += count - found.length;
      };

      const searchDirectory = async (base: TreeEntry) => {
        const start = scope?.prefix.length ? await openInside(root, join(base.path, ...scope.prefix), "directory").catch(missing) : base;
        if (!start) return;
        try {
          await walkTree(start, budget, scope?.depth ?? limits.maxDepth, async (dir, names) => {
            let selected = names.map(() => true);
            if (files && scope) {
              budget.matching = "the include glob";
              selected = await files.select(names.map((name) => under(start.path, dir, name, scope.prefix)));
              budget.matching = undefined;
            }
            for (const [i, name] of names.entries()) {
              if (!selected[i] || budget.stopped) continue;
              const file = await dir.child(name, false);
              if (!file) continue; // a link swapped in meanwhile, or gone
              try {
                if (file.stats.isFile()) await search(file);
              } finally {
                await file.close();
              }
            }
          });
        } finally {
          if (start !== base) await start.close();
        }
      };

      try {
        // A file named by path is searched whatever include says.
        await (target.isDirectory ? searchDirectory(target) : search(target));
      } catch (error) {
        if (!(error instanceof MatchStopped)) throw error;
      } finally {
        await Promise.all([lines.close(), files?.close(), target.close()]);
      }
      const note = budget.note("Narrow it with path or include.");
      if (matches.length === 0) return `No matches for /${pattern}/.${note}`;
      return (more > 0 ? `${matches.join("\n")}\n[${more} more matches not shown; narrow the search]` : matches.join("\n")) + note;
    },
  });
}

const missing = (error: unknown): undefined => {
  if (error instanceof MissingPathError) return undefined;
  throw error;
};

export const grep = grepTool();
