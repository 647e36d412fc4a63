// What the commands of the `routines` CLI share: their output streams and their ways to fail.
import { readFile } from "node:fs/promises";

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Asks a question and resolves to the answer; present only when someone can answer (standard input is a terminal). */
  ask?: (question: string) => Promise<string>;
}

/** A failure the user can act on, printed as `routines: <message>`, with the exit status. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Status 2: the command could not read its input. */
export async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`, 2);
  }
}
