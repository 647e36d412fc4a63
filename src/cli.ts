#!/usr/bin/env node
// The `routines` command: validate a routines file, dry-run trigger matching, print the JSON
// Schema, manage API tokens and look at runs. Each command's module is imported only when that
// command runs, so `routines validate` starts without loading Probot, the model SDK, git or SQLite.
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CliError, type Io } from "./cli/io.js";
import { CONFIG_PATH } from "./config/read-config-file.js";
import { applyEnvFile } from "./env-file.js";

const USAGE = `Usage: routines <command>
       routines --help | --version

Commands:
  validate [file] [--repo <owner/name>]
                    Check a routines file (default: ${CONFIG_PATH}). With --repo, also check that
                    the secrets it names are granted to that repository by the ROUTINES_SECRET_*
                    settings of the environment and .env (run it where the server's settings are).
                    Exit status: 0 valid, 1 problems found, 2 file not readable.
  match --event <pull_request|release|issue_comment> --payload <file.json> [--config <file>] [--json]
                    Show which routines a webhook payload would fire, and why the others would not
                    (config default: ${CONFIG_PATH}).
                    Exit status: 0 whether or not any fires, 1 invalid config, 2 unreadable input.
  run <name> [--repo <dir>] [--config <file>] [--text <text>] [--event <pull_request|release> --payload <file.json>] [--dry-run]
                    Run a routine once in a local checkout (default: the current directory), with
                    progress as it goes. Needs ANTHROPIC_API_KEY. Edits and commands apply to the checkout.
                    With GITHUB_TOKEN it also gets the GitHub tools; --dry-run prints their writes instead.
                    Exit status: 0 when the routine reports success, 1 otherwise, 2 for bad input.
  schema            Print the JSON Schema of routines files.
  token create --repo <owner/name> --routine <name>
                    Create a bearer token for the routine's api trigger; prints it once.
  token list        List API tokens.
  token revoke <trigger-id>
                    Revoke an API token.
  runs [--limit N] [--repo owner/name] [--routine name] [--status status]
                    List recent runs, newest first.
  runs show <run-id>
                    Show one run and its transcript.
  disable <installation-id>
                    Kill switch: no routine of the installation starts until it is enabled again.
  enable <installation-id>
                    Lift the kill switch.

The token, runs, disable and enable commands use the server's database under DATA_DIR (default ./data).
Like the server, the command first applies .env from the current directory: its values win over
the environment's.
`;

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

/** The version in package.json, which sits beside both src/ and dist/. */
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Runs the command line and resolves to the exit status. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
        config: { type: "string" },
        event: { type: "string" },
        payload: { type: "string" },
        json: { type: "boolean" },
        repo: { type: "string" },
        routine: { type: "string" },
        limit: { type: "string" },
        status: { type: "string" },
        text: { type: "string" },
        "dry-run": { type: "boolean" },
      },
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (values.version) {
      io.out(`${await version()}\n`);
      return 0;
    }
    const [command, ...rest] = positionals;
    switch (command) {
      case "validate": {
        const { validate } = await import("./cli/validate.js");
        return await validate(rest[0] ?? CONFIG_PATH, io, values.repo);
      }
      case "match": {
        if (!values.event || !values.payload) throw new CliError("match needs --event and --payload", 2);
        const { match } = await import("./cli/match.js");
        return await match({ config: values.config ?? CONFIG_PATH, event: values.event, payload: values.payload, json: values.json ?? false }, io);
      }
      case "run": {
        const { run } = await import("./cli/run.js");
        return await run(
          {
            ...(rest[0] ? { name: rest[0] } : {}),
            repo: values.repo ?? ".",
            ...(values.config ? { config: values.config } : {}),
            ...(values.event ? { event: values.event } : {}),
            ...(values.payload ? { payload: values.payload } : {}),
            ...(values.text ? { text: values.text } : {}),
            dryRun: values["dry-run"] ?? false,
          },
          io,
        );
      }
      case "token": {
        const { token } = await import("./cli/token.js");
        return await token(rest, values, io);
      }
      case "runs": {
        const { runs } = await import("./cli/runs.js");
        return await runs(rest, values, io);
      }
      case "disable":
      case "enable": {
        const { killSwitch } = await import("./cli/kill-switch.js");
        return await killSwitch(command === "disable", rest[0], io);
      }
      case "schema": {
        const { routinesJsonSchema } = await import("./config/json-schema.js");
        io.out(`${JSON.stringify(routinesJsonSchema(), null, 2)}\n`);
        return 0;
      }
      case "help":
        io.out(USAGE);
        return 0;
      case undefined:
        io.out(USAGE);
        return 2;
      default:
        throw new CliError(`unknown command "${command}"\n\n${USAGE}`, 2);
    }
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`routines: ${error.message}\n`);
      return error.status;
    }
    // The settings module is loaded by the commands that read settings, so only after one failed.
    const isSettingsError = async () => error instanceof (await import("./settings.js")).SettingsError;
    if ((error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS") || (await isSettingsError())) {
      io.err(`routines: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}

/**
 * The command as a program: `.env` applied first, as the server applies it, so that both read the
 * same settings and open the same database. Tests call `main` with their own environment.
 */
async function program(argv: string[]): Promise<number> {
  try {
    applyEnvFile();
  } catch (error) {
    process.stderr.write(`routines: cannot read .env: ${(error as Error).message}\n`);
    return 2;
  }
  return main(argv);
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await program(process.argv.slice(2));
}
