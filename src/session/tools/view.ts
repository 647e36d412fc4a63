import { z } from "zod";
import { defineTool, MAX_OUTPUT, ToolError } from "../define-tool.js";
import { MissingPathError, openInside, readHead } from "../paths.js";

const MAX_LINES = 2_000;
/** The most of a file one view reads: lines past it are for the shell (sed -n, tail). */
const MAX_BYTES = 10 * 1024 * 1024;
/** The most entries of a directory one view lists: far more than a result can show. */
const MAX_ENTRIES = Math.ceil(MAX_OUTPUT / 4);

export const view = defineTool({
  name: "view",
  readOnly: true,
  description: `Show a file with line numbers (at most ${MAX_LINES} lines at a time; use start_line and end_line for more), or list a directory.`,
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    start_line: z.number().int().min(1).optional().describe("First line to show, from 1."),
    end_line: z.number().int().min(1).optional().describe("Last line to show."),
  }),
  async execute({ path, start_line: start = 1, end_line: end }, { root }) {
    const entry = await openInside(root, path, "any").catch((error: unknown) => {
      throw error instanceof MissingPathError ? new ToolError(`${path} does not exist`) : error;
    });
    try {
      if (entry.isDirectory) {
        const { entries, more } = await entry.list(MAX_ENTRIES);
        const names = entries.filter((item) => item.name !== ".git").map((item) => `${item.name}${item.isDirectory() ? "/" : ""}`);
        return `${entry.shown}/\n${names.sort().join("\n")}${more ? `\n[more than ${MAX_ENTRIES} entries; only these are shown]` : ""}`;
      }
      const { bytes, whole } = await readHead(entry.handle, MAX_BYTES, entry.stats.size);
      if (bytes.subarray(0, 8000).includes(0)) throw new ToolError(`${path} is a binary file`);
      const lines = bytes.toString("utf8").split("\n");
      // A cut file's last line may be cut too: it is left out.
      if (!whole) lines.pop();
      const last = Math.min(lines.length, end ?? start + MAX_LINES - 1, start + MAX_LINES - 1);
      if (start > lines.length) {
        throw new ToolError(whole ? `${path} has ${lines.length} lines; start_line ${start} is past the end` : `${path} is larger than ${MAX_BYTES / 1024 / 1024} MB; view reads its first ${lines.length} lines: use the shell for the rest`);
      }
      const width = String(last).length;
      const shown = lines.slice(start - 1, last).map((line, i) => `${String(start + i).padStart(width)}\t${line}`);
      const more = last < lines.length ? `\n[lines ${last + 1}-${lines.length}${whole ? "" : " and more"} not shown]` : whole ? "" : `\n[the file goes on past ${MAX_BYTES / 1024 / 1024} MB: use the shell for the rest]`;
      return shown.join("\n") + more;
    } finally {
      await entry.close();
    }
  },
});
