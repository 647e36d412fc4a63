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
/** Files opened and read at once. */
const READ_AT_ONCE = 16;
/** Bytes of files matched in one exchange with the matcher (a file larger than this goes alone). */
const BATCH_BYTES = 4 * 1024 * 1024;

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

      /** Reads these files at once and matches them in one exchange with the matcher, in order. */
      const searchBatch = async (batch: TreeEntry[]) => {
        const heads = await Promise.all(batch.map((file) => readHead(file.handle, MAX_FILE_BYTES, file.stats.size)));
        const texts = batch.flatMap((file, i) => {
          const { bytes, whole } = heads[i]!;
          return whole && !bytes.subarray(0, 8000).includes(0) ? [{ path: file.path, bytes }] : [];
        });
        if (texts.length === 0) return;
        budget.matching = texts[0]!.path;
        const results = await lines.linesOf(texts.map((text) => text.bytes), MAX_MATCHES - matches.length, LINE_WIDTH).catch((error: unknown) => {
          if (error instanceof MatchStopped) budget.matching = texts[lines.matching]?.path;
          throw error;
        });
        budget.matching = undefined;
        for (const [i, { found, count }] of results.entries()) {
          for (const [line, text] of found) matches.push(`${texts[i]!.path}:${line}: ${text}`);
          more += count - found.length;
        }
      };

      /**
       * Searches `files` (in this order), opening and reading up to READ_AT_ONCE of them at a time:
       * one at a time, each read waits for a thread of the pool in turn.
       */
      const searchFiles = async (files: Array<TreeEntry | undefined>) => {
        const batch: TreeEntry[] = [];
        let bytes = 0;
        for (const file of files) {
          if (!file?.stats.isFile() || file.stats.size > MAX_FILE_BYTES) continue;
          if (budget.stopped) break;
          if (batch.length > 0 && bytes + file.stats.size > BATCH_BYTES) {
            await searchBatch(batch.splice(0));
            bytes = 0;
          }
          // Counted in order, so a search cut at its cap on bytes has read the same files every time.
          if (!budget.read(file.stats.size)) break;
          batch.push(file);
          bytes += file.stats.size;
        }
        if (batch.length > 0) await searchBatch(batch);
      };

      const searchDirectory = async (base: TreeEntry) => {
        const start = scope?.prefix.length ? await openInside(root, join(base.path, ...scope.prefix), "directory").catch(missing) : base;
        if (!start) return;
        try {
          await walkTree(start, budget, scope?.depth ?? limits.maxDepth, async (dir, names) => {
            let selected = names;
            if (files && scope) {
              budget.matching = "the include glob";
              const chosen = await files.select(names.map((name) => under(start.path, dir, name, scope.prefix)));
              budget.matching = undefined;
              selected = names.filter((_, i) => chosen[i]);
            }
            for (let at = 0; at < selected.length && !budget.stopped; at += READ_AT_ONCE) {
              // A link swapped in meanwhile, or a file gone, opens as undefined and is skipped.
              const opened = await Promise.all(selected.slice(at, at + READ_AT_ONCE).map((name) => dir.child(name, false)));
              try {
                await searchFiles(opened);
              } finally {
                await Promise.all(opened.map((file) => file?.close()));
              }
            }
          });
        } finally {
          if (start !== base) await start.close();
        }
      };

      try {
        // A file named by path is searched whatever include says.
        await (target.isDirectory ? searchDirectory(target) : searchFiles([target]));
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
