import { z } from "zod";
import { glob as findFiles } from "tinyglobby";
import { defineTool } from "../define-tool.js";
import { resolveInside } from "../paths.js";

const MAX_RESULTS = 500;
export const IGNORED = ["**/.git/**", "**/node_modules/**"];

export const glob = defineTool({
  name: "glob",
  description: `Find files by glob pattern, e.g. "src/**/*.ts" (at most ${MAX_RESULTS} paths, sorted). .git and node_modules are skipped.`,
  input: z.object({
    pattern: z.string().min(1).describe("A glob pattern relative to the repository root (or to path)."),
    path: z.string().optional().describe("A directory to search in, relative to the repository root."),
  }),
  async execute({ pattern, path = "." }, { root }) {
    const cwd = await resolveInside(root, path);
    const files = (await findFiles(pattern, { cwd, ignore: IGNORED, dot: true, onlyFiles: true })).sort();
    if (files.length === 0) return `No files match ${pattern}.`;
    const shown = files.slice(0, MAX_RESULTS).join("\n");
    return files.length > MAX_RESULTS ? `${shown}\n[${files.length - MAX_RESULTS} more not shown; narrow the pattern]` : shown;
  },
});
