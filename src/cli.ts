#!/usr/bin/env node
// The `routines` command: validate a routines file, print the JSON Schema.
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { routinesJsonSchema } from "./config/json-schema.js";
import { formatProblem, isError } from "./config/problem.js";
import { validateRoutines } from "./config/validate.js";
import { readSettings, SettingsError } from "./settings.js";

export const CONFIG_PATH = ".claude/routines.yml";

const USAGE = `Usage: routines <command>

Commands:
  validate [file]   Check a routines file (default: ${CONFIG_PATH}).
                    Exit status: 0 valid, 1 problems found, 2 file not readable.
  schema            Print the JSON Schema of routines files.
`;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

/** Runs the command line and resolves to the exit status. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false });
  const [command, ...rest] = positionals;
  try {
    switch (command) {
      case "validate":
        return await validate(rest[0] ?? CONFIG_PATH, io);
      case "schema":
        io.out(`${JSON.stringify(routinesJsonSchema(), null, 2)}\n`);
        return 0;
      case undefined:
      case "help":
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`routines: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof SettingsError) {
      io.err(`routines: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function validate(file: string, io: Io): Promise<number> {
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    io.err(`routines: cannot read ${file}: ${reason}\n`);
    return 2;
  }
  const { minScheduleInterval } = readSettings(io.env);
  const config = validateRoutines(source, { minScheduleInterval });
  for (const problem of config.problems) io.out(`${formatProblem(file, problem)}\n`);
  const errors = config.problems.filter(isError).length;
  if (errors > 0) {
    io.out(`${file}: ${errors} error${errors === 1 ? "" : "s"}\n`);
    return 1;
  }
  const names = Object.keys(config.routines);
  io.out(`${file}: valid, ${names.length} routine${names.length === 1 ? "" : "s"}${names.length ? ` (${names.join(", ")})` : ""}\n`);
  return 0;
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
