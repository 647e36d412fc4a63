import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { z } from "zod";
import { glob as findFiles } from "tinyglobby";
import { defineTool, ToolError } from "../define-tool.js";
import { resolveInside } from "../paths.js";
import { IGNORED } from "./glob.js";

const MAX_MATCHES = 300;
const MAX_FILE_BYTES = 2 * 1024 * 1024;

export const grep = defineTool({
  name: "grep",
  description: `Search file contents with a regular expression (JavaScript syntax). Returns path:line: text for each matching line, at most ${MAX_MATCHES}. Binary files, large files, .git and node_modules are skipped.`,
  input: z.object({
    pattern: z.string().min(1).describe("A regular expression."),
    path: z.string().optional().describe("A file or directory to search, relative to the repository root."),
    include: z.string().optional().describe('A glob of files to search, e.g. "**/*.ts".'),
    ignore_case: z.boolean().optional(),
  }),
  async execute({ pattern, path = ".", include = "**/*", ignore_case: ignoreCase }, { root }) {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, ignoreCase ? "i" : "");
    } catch (error) {
      throw new ToolError(`invalid regular expression: ${(error as Error).message}`);
    }
    const base = await resolveInside(root, path);
    const files = (await findFiles(include, { cwd: base, ignore: IGNORED, dot: true, onlyFiles: true })).sort();
    const matches: string[] = [];
    let more = 0;
    for (const file of files.length > 0 ? files : [""]) {
      const absolute = file === "" ? base : join(base, file);
      const content = await readFile(absolute).catch(() => undefined);
      if (!content || content.length > MAX_FILE_BYTES || content.subarray(0, 8000).includes(0)) continue;
      const lines = content.toString("utf8").split("\n");
      for (let i = 0; i < lines.length; i++) {
        if (!regex.test(lines[i]!)) continue;
        if (matches.length >= MAX_MATCHES) more += 1;
        else matches.push(`${relative(root, absolute)}:${i + 1}: ${lines[i]!.slice(0, 300)}`);
      }
    }
    if (matches.length === 0) return `No matches for /${pattern}/.`;
    return more > 0 ? `${matches.join("\n")}\n[${more} more matches not shown; narrow the search]` : matches.join("\n");
  },
});
