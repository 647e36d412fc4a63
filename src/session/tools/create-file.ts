import { z } from "zod";
import { defineTool } from "../define-tool.js";
import { openInside, rewrite } from "../paths.js";

export const createFile = defineTool({
  name: "create_file",
  description: "Create a file with the given content, or replace a file's whole content. Missing directories are created.",
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    content: z.string().describe("The complete content of the file."),
  }),
  async execute({ path, content }, { root }) {
    const file = await openInside(root, path, "create");
    try {
      await rewrite(file.handle, content);
    } finally {
      await file.close();
    }
    return `Wrote ${file.shown} (${content.split("\n").length} lines).`;
  },
});
