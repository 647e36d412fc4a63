// `.env` in the working directory, applied to the process's environment before any setting is
// read, exactly as Probot applies it when it starts (its values win over the environment's), so
// that the server, Probot and the `routines` command all see the same settings.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/** Applies the file's values to `env`; a missing file changes nothing. Returns the names it set. */
export function applyEnvFile(path = join(process.cwd(), ".env"), env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const values = parseEnv(text);
  Object.assign(env, values);
  return Object.keys(values);
}
