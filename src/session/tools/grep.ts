import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { defineTool, ToolError, type Tool } from "../define-tool.js";
import { MissingPathError, openInside, type TreeEntry } from "../paths.js";
import { globScope } from "./glob.js";
import { Matcher, MatchStopped, prepareMatchers } from "./matcher.js";
import { SEARCH_LIMITS, SearchBudget, size, under, walkTree, type SearchLimits } from "./walk-tree.js";

const MAX_MATCHES = 300;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const LINE_WIDTH = 300;

/** The grep tool, with the caps of one search (the server's own unless a test narrows them). */
export function grepTool(limits: SearchLimits = SEARCH_LIMITS): Tool {
  return defineTool({
    name: "grep",
    readOnly: true,
    prepare: () => prepareMatchers(),
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
      // One worker chooses the files by the include glob and searches them.
      const lines = new Matcher(scope ? { regex, glob: scope.pattern } : { regex }, budget.signal);
      const matches: string[] = [];
      let more = 0;

      /**
       * Searches the files `names` of `dir`, in this order, in one exchange with the matcher's
       * worker; with `globPaths`, only those whose glob path the include glob matches.
       */
      const searchIn = async (dir: TreeEntry, names: string[], globPaths?: string[]) => {
        if (names.length === 0 || budget.stopped) return;
        const shown = names.map((name) => join(dir.path, name));
        budget.matching = globPaths ? "the include glob" : shown[0];
        const result = await lines
          .searchFiles(
            names.map((name) => dir.inside(name)),
            { ...(globPaths ? { globPaths } : {}), maxFileBytes: MAX_FILE_BYTES, bytesLeft: limits.maxBytes - budget.bytes, limit: MAX_MATCHES - matches.length, width: LINE_WIDTH },
          )
          .catch((error: unknown) => {
            if (error instanceof MatchStopped) budget.matching = lines.matching < 0 ? "the include glob" : shown[lines.matching];
            throw error;
          });
        budget.matching = undefined;
        budget.bytes += result.bytes;
        if (result.cut) budget.cut ??= "bytes";
        for (const { index, found, count } of result.files) {
          for (const [line, text] of found) matches.push(`${shown[index]}:${line}: ${text}`);
          more += count - found.length;
        }
      };

      const searchDirectory = async (base: TreeEntry) => {
        const start = scope?.prefix.length ? await openInside(root, join(base.path, ...scope.prefix), "directory").catch(missing) : base;
        if (!start) return;
        try {
          await walkTree(start, budget, scope?.depth ?? limits.maxDepth, (dir, names) =>
            searchIn(dir, names, scope && names.map((name) => under(start.path, dir, name, scope.prefix))),
          );
        } finally {
          if (start !== base) await start.close();
        }
      };

      /** A file named by path, searched through its directory like any other (whatever include says). */
      const searchFile = async (file: TreeEntry) => {
        const parent = await openInside(root, dirname(file.path) || ".", "directory");
        try {
          await searchIn(parent, [basename(file.path)]);
        } finally {
          await parent.close();
        }
      };

      try {
        await (target.isDirectory ? searchDirectory(target) : searchFile(target));
      } catch (error) {
        if (!(error instanceof MatchStopped)) throw error;
      } finally {
        await Promise.all([lines.close(), target.close()]);
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
