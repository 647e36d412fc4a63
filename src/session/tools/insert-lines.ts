import { readFile, writeFile } from "node:fs/promises";
import { z } from "zod";
import { defineTool, ToolError } from "../define-tool.js";
import { displayPath, resolveInside } from "../paths.js";

export const insertLines = defineTool({
  name: "insert_lines",
  description: "Insert text after a given line of a file (after_line 0 inserts at the top).",
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    after_line: z.number().int().min(0).describe("The line after which the text goes; 0 for the top."),
    text: z.string().describe("The lines to insert."),
  }),
  async execute({ path, after_line: after, text }, { root }) {
    const absolute = await resolveInside(root, path);
    const content = await readFile(absolute, "utf8").catch(() => {
      throw new ToolError(`${path} does not exist; use create_file for new files`);
    });
    const lines = content.split("\n");
    if (after > lines.length) throw new ToolError(`${path} has ${lines.length} lines; after_line ${after} is past the end`);
    lines.splice(after, 0, ...text.replace(/\n$/, "").split("\n"));
    await writeFile(absolute, lines.join("\n"));
    return `Inserted ${text.replace(/\n$/, "").split("\n").length} lines into ${displayPath(root, absolute)} after line ${after}.`;
  },
});
