import { z } from "zod";
import { defineTool, ToolError } from "../define-tool.js";
import { openForEdit } from "./open-for-edit.js";

export const insertLines = defineTool({
  name: "insert_lines",
  description: "Insert text after a given line of a file (after_line 0 inserts at the top).",
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    after_line: z.number().int().min(0).describe("The line after which the text goes; 0 for the top."),
    text: z.string().describe("The lines to insert."),
  }),
  async execute({ path, after_line: after, text }, { root }) {
    const file = await openForEdit(root, path);
    try {
      const lines = file.content.split("\n");
      if (after > lines.length) throw new ToolError(`${path} has ${lines.length} lines; after_line ${after} is past the end`);
      const inserted = text.replace(/\n$/, "").split("\n");
      lines.splice(after, 0, ...inserted);
      await file.write(lines.join("\n"));
      return `Inserted ${inserted.length} lines into ${file.shown} after line ${after}.`;
    } finally {
      await file.close();
    }
  },
});
