#!/usr/bin/env node
// The `routines` command: validate a routines file, dry-run trigger matching, print the JSON
// Schema, manage API tokens and look at runs.
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CliError, type Io } from "./cli/io.js";
import { killSwitch } from "./cli/kill-switch.js";
import { match } from "./cli/match.js";
import { run } from "./cli/run.js";
import { runs } from "./cli/runs.js";
import { token } from "./cli/token.js";
import { CONFIG_PATH, validate } from "./cli/validate.js";
import { routinesJsonSchema } from "./config/json-schema.js";
import { SettingsError } from "./settings.js";

const USAGE = `Usage: routines <command>

Commands:
  validate [file]   Check a routines file (default: ${CONFIG_PATH}).
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
`;

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};

/** Runs the command line and resolves to the exit status. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
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
    const [command, ...rest] = positionals;
    switch (command) {
      case "validate":
        return await validate(rest[0] ?? CONFIG_PATH, io);
      case "match":
        if (!values.event || !values.payload) throw new CliError("match needs --event and --payload", 2);
        return await match({ config: values.config ?? CONFIG_PATH, event: values.event, payload: values.payload, json: values.json ?? false }, io);
      case "run":
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
      case "token":
        return await token(rest, values, io);
      case "runs":
        return await runs(rest, values, io);
      case "disable":
      case "enable":
        return await killSwitch(command === "disable", rest[0], io);
      case "schema":
        io.out(`${JSON.stringify(routinesJsonSchema(), null, 2)}\n`);
        return 0;
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
    if (error instanceof SettingsError || (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`routines: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
