// A file of the working tree opened to be changed in place: read through the same handle that
// writes it, so the file checked to be inside the tree is the file written.
import { ToolError } from "../define-tool.js";
import { MissingPathError, openInside, readHead, rewrite } from "../paths.js";

/** The most of a file the editing tools take on: a larger one is for the shell. */
export const MAX_EDIT_BYTES = 10 * 1024 * 1024;

export interface EditableFile {
  content: string;
  /** The file's path as the model should see it. */
  shown: string;
  write(content: string): Promise<void>;
  close(): Promise<void>;
}

export async function openForEdit(root: string, path: string): Promise<EditableFile> {
  const entry = await openInside(root, path, "update").catch((error: unknown) => {
    throw error instanceof MissingPathError ? new ToolError(`${path} does not exist; use create_file for new files`) : error;
  });
  try {
    const { bytes, whole } = await readHead(entry.handle, MAX_EDIT_BYTES, entry.stats.size);
    if (!whole) throw new ToolError(`${path} is larger than ${MAX_EDIT_BYTES / 1024 / 1024} MB; change it with the shell`);
    return { content: bytes.toString("utf8"), shown: entry.shown, write: (content) => rewrite(entry.handle, content), close: () => entry.close() };
  } catch (error) {
    await entry.close();
    throw error;
  }
}
