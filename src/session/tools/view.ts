import { readdir, readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { defineTool, ToolError } from "../define-tool.js";
import { displayPath, resolveInside } from "../paths.js";

const MAX_LINES = 2_000;

export const view = defineTool({
  name: "view",
  description: `Show a file with line numbers (at most ${MAX_LINES} lines at a time; use start_line and end_line for more), or list a directory.`,
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    start_line: z.number().int().min(1).optional().describe("First line to show, from 1."),
    end_line: z.number().int().min(1).optional().describe("Last line to show."),
  }),
  async execute({ path, start_line: start = 1, end_line: end }, { root }) {
    const absolute = await resolveInside(root, path);
    const info = await stat(absolute).catch(() => {
      throw new ToolError(`${path} does not exist`);
    });
    if (info.isDirectory()) {
      const entries = await readdir(absolute, { withFileTypes: true });
      const names = entries.filter((entry) => entry.name !== ".git").map((entry) => `${entry.name}${entry.isDirectory() ? "/" : ""}`);
      return `${displayPath(root, absolute)}/\n${names.sort().join("\n")}`;
    }
    const content = await readFile(absolute);
    if (content.subarray(0, 8000).includes(0)) throw new ToolError(`${path} is a binary file`);
    const lines = content.toString("utf8").split("\n");
    const last = Math.min(lines.length, end ?? start + MAX_LINES - 1, start + MAX_LINES - 1);
    if (start > lines.length) throw new ToolError(`${path} has ${lines.length} lines; start_line ${start} is past the end`);
    const width = String(last).length;
    const shown = lines.slice(start - 1, last).map((line, i) => `${String(start + i).padStart(width)}\t${line}`);
    const more = last < lines.length ? `\n[lines ${last + 1}-${lines.length} not shown]` : "";
    return shown.join("\n") + more;
  },
});
