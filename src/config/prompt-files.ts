// A routine's `prompt_file` must exist in its repository and fit the limit: checked where the
// repository is at hand (`routines validate` in a checkout), one error at the key's place, instead
// of a run that fails when it starts.
import { LineCounter, parseDocument } from "yaml";
import { formatBytes, LIMITS } from "./limits.js";
import { createLocator } from "./locate.js";
import { byPosition, type Problem } from "./problem.js";
import type { RoutinesConfig } from "./validate.js";

/** What a prompt file is in the repository: its size, or undefined when it is not a file there. */
export type PromptFileSize = (path: string) => Promise<number | undefined>;

export async function promptFileProblems(source: string, config: RoutinesConfig, sizeOf: PromptFileSize): Promise<Problem[]> {
  const found: Array<{ path: Array<string | number>; message: string }> = [];
  for (const [name, routine] of Object.entries(config.routines)) {
    const file = routine.prompt_file;
    if (file === undefined) continue;
    const size = await sizeOf(file);
    if (size === undefined) found.push({ path: ["routines", name, "prompt_file"], message: `prompt_file ${file} is not a file in the repository` });
    else if (size > LIMITS.promptFileBytes) {
      found.push({ path: ["routines", name, "prompt_file"], message: `prompt_file ${file} is ${formatBytes(size)}; the limit is ${formatBytes(LIMITS.promptFileBytes)}` });
    }
  }
  if (found.length === 0) return [];
  const lineCounter = new LineCounter();
  const locate = createLocator(parseDocument(source, { lineCounter }), lineCounter);
  return found.map(({ path, message }) => ({ ...locate(path), path, message, severity: "error" as const })).sort(byPosition);
}
