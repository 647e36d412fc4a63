import { z } from "zod";
import { defineTool, ToolError } from "../define-tool.js";
import { openForEdit } from "./open-for-edit.js";

export const editFile = defineTool({
  name: "edit_file",
  description:
    "Replace one exact occurrence of old_text in a file with new_text. old_text must match the file exactly, whitespace included, and occur exactly once: include enough surrounding lines to make it unique.",
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    old_text: z.string().min(1).describe("The exact text to replace."),
    new_text: z.string().describe("The text to put in its place."),
  }),
  async execute({ path, old_text: oldText, new_text: newText }, { root }) {
    const file = await openForEdit(root, path);
    try {
      const first = file.content.indexOf(oldText);
      if (first < 0) throw new ToolError(`old_text does not occur in ${path}; view the file and copy the text exactly`);
      if (file.content.indexOf(oldText, first + 1) >= 0) throw new ToolError(`old_text occurs more than once in ${path}; include more surrounding lines`);
      await file.write(file.content.slice(0, first) + newText + file.content.slice(first + oldText.length));
      const line = file.content.slice(0, first).split("\n").length;
      return `Edited ${file.shown} at line ${line}.`;
    } finally {
      await file.close();
    }
  },
});
