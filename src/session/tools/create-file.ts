import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { defineTool } from "../define-tool.js";
import { displayPath, resolveInside } from "../paths.js";

export const createFile = defineTool({
  name: "create_file",
  description: "Create a file with the given content, or replace a file's whole content. Missing directories are created.",
  input: z.object({
    path: z.string().describe("A path relative to the repository root."),
    content: z.string().describe("The complete content of the file."),
  }),
  async execute({ path, content }, { root }) {
    const absolute = await resolveInside(root, path);
    await mkdir(dirname(absolute), { recursive: true });
    await writeFile(absolute, content);
    return `Wrote ${displayPath(root, absolute)} (${content.split("\n").length} lines).`;
  },
});
