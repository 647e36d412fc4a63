#!/usr/bin/env node
// The `routines` command: start a server or worker process, write a routines file from templates,
// validate one, dry-run trigger matching, print the JSON Schema, manage API tokens and look at runs. Each command's module is
// imported only when that command runs, so `routines validate` starts without loading Probot, the
// model SDK, git or SQLite.
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, type Io } from "./cli/io.js";
import { CONFIG_PATH } from "./config/read-config-file.js";
import { applyEnvFile } from "./env-file.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One command: its usage (first line: the synopsis), the options it takes, and what it does. */
interface Command {
  usage: string;
  options: Options;
  run(positionals: string[], values: Values, io: Io): Promise<number>;
}

const text = (values: Values, name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);

/** Starts the server in a role; the process runs until SIGTERM or SIGINT (see server.ts). */
async function startProcess(role: "server" | "worker"): Promise<number> {
  const { chooseRole } = await import("./process-role.js");
  chooseRole(role);
  await import("./server.js");
  // The server keeps the process alive and exits by itself when stopped.
  return new Promise<number>(() => undefined);
}

const COMMANDS: Record<string, Command> = {
  server: {
    usage: `server            Receive webhooks and serve the API and the dashboard, running sessions
                    too unless ROUTINES_WORKERS=0 (what npm start does). Any number of server
                    processes may share one DATABASE_URL (PostgreSQL) behind a load balancer.`,
    options: {},
    run: () => startProcess("server"),
  },
  worker: {
    usage: `worker            Only run sessions (ROUTINES_WORKERS at once), taking queued runs from
                    the database that server processes fill; serves /healthz and /metrics on PORT.
                    Needs DATABASE_URL (PostgreSQL) and the app's credentials (APP_ID, PRIVATE_KEY).`,
    options: {},
    run: () => startProcess("worker"),
  },
  init: {
    usage: `init [--use <uses>] [--force]
                    Write ${CONFIG_PATH} (and its prompts under .claude/prompts/) in this
                    checkout from the templates: review, backlog-triage, alert-triage,
                    deploy-verification, docs-drift, port (--use review,docs-drift; asked for in a
                    terminal). Replaces existing files only with --force. Checks what it wrote.
                    Exit status: 0 written and valid, 1 not written or not valid, 2 bad input.`,
    options: { use: { type: "string" }, force: { type: "boolean" } },
    async run(_, values, io) {
      const { init } = await import("./cli/init.js");
      return init({ ...(text(values, "use") === undefined ? {} : { use: text(values, "use") }), force: values.force === true, cwd: process.cwd() }, io);
    },
  },
  validate: {
    usage: `validate [file] [--repo <owner/name>]
                    Check a routines file (default: ${CONFIG_PATH}); in a checkout, also that its
                    prompt files are there. With --repo, also check that the secrets it names are
                    granted to that repository by the ROUTINES_SECRET_* settings of the environment
                    and .env (run it where the server's settings are).
                    Exit status: 0 valid, 1 problems found, 2 file not readable.`,
    options: { repo: { type: "string" } },
    async run([file], values, io) {
      const { validate } = await import("./cli/validate.js");
      return validate(file ?? CONFIG_PATH, io, text(values, "repo"));
    },
  },
  match: {
    usage: `match --event <pull_request|release|issues|workflow_run|deployment_status|issue_comment> --payload <file.json> [--changed-file <path>]... [--config <file>] [--json]
                    Show which routines a webhook payload would fire, and why the others would not
                    (config default: ${CONFIG_PATH}). A pull request's changed files, which paths
                    filters read, are not in its payload: give each with --changed-file.
                    Exit status: 0 whether or not any fires, 1 invalid config, 2 unreadable input.`,
    options: { event: { type: "string" }, payload: { type: "string" }, config: { type: "string" }, json: { type: "boolean" }, "changed-file": { type: "string", multiple: true } },
    async run(_, values, io) {
      const [event, payload] = [text(values, "event"), text(values, "payload")];
      if (!event || !payload) throw new CliError("match needs --event and --payload", 2);
      const { match } = await import("./cli/match.js");
      const changed = values["changed-file"];
      const changedFiles = Array.isArray(changed) ? changed.filter((path): path is string => typeof path === "string") : undefined;
      return match({ config: text(values, "config") ?? CONFIG_PATH, event, payload, json: values.json === true, ...(changedFiles ? { changedFiles } : {}) }, io);
    },
  },
  run: {
    usage: `run <name> [--repo <dir>] [--config <file>] [--text <text>] [--event <pull_request|release|issues|workflow_run|deployment_status> --payload <file.json>] [--dry-run]
                    Run a routine once in a local checkout (default: the current directory), with
                    progress as it goes. Needs ANTHROPIC_API_KEY. Edits and commands apply to the checkout.
                    With GITHUB_TOKEN it also gets the GitHub tools; --dry-run prints their writes instead.
                    Exit status: 0 when the routine reports success, 1 otherwise, 2 for bad input.`,
    options: { repo: { type: "string" }, config: { type: "string" }, text: { type: "string" }, event: { type: "string" }, payload: { type: "string" }, "dry-run": { type: "boolean" } },
    async run([name], values, io) {
      const { run } = await import("./cli/run.js");
      const optional = (key: "config" | "event" | "payload" | "text") => (text(values, key) === undefined ? {} : { [key]: text(values, key) });
      return run({ ...(name ? { name } : {}), repo: text(values, "repo") ?? ".", ...optional("config"), ...optional("event"), ...optional("payload"), ...optional("text"), dryRun: values["dry-run"] === true }, io);
    },
  },
  schema: {
    usage: `schema            Print the JSON Schema of routines files.`,
    options: {},
    async run(_, __, io) {
      const { routinesJsonSchema } = await import("./config/json-schema.js");
      io.out(`${JSON.stringify(routinesJsonSchema(), null, 2)}\n`);
      return 0;
    },
  },
  token: {
    usage: `token create --repo <owner/name> --routine <name>
                    Create a bearer token for the routine's api trigger; prints it once.
  token list        List API tokens.
  token revoke <trigger-id>
                    Revoke an API token.`,
    options: { repo: { type: "string" }, routine: { type: "string" } },
    async run(positionals, values, io) {
      const { token } = await import("./cli/token.js");
      return token(positionals, values, io);
    },
  },
  runs: {
    usage: `runs [--limit N] [--repo owner/name] [--routine name] [--status status]
                    List recent runs, newest first.
  runs show <run-id>
                    Show one run and its transcript.`,
    options: { limit: { type: "string" }, repo: { type: "string" }, routine: { type: "string" }, status: { type: "string" } },
    async run(positionals, values, io) {
      const { runs } = await import("./cli/runs.js");
      return runs(positionals, values, io);
    },
  },
  disable: {
    usage: `disable <installation-id>
                    Kill switch: the installation's running and queued runs are cancelled, and no
                    routine of it starts until it is enabled again.`,
    options: {},
    async run([installation], _, io) {
      const { killSwitch } = await import("./cli/kill-switch.js");
      return killSwitch(true, installation, io);
    },
  },
  enable: {
    usage: `enable <installation-id>
                    Lift the kill switch.`,
    options: {},
    async run([installation], _, io) {
      const { killSwitch } = await import("./cli/kill-switch.js");
      return killSwitch(false, installation, io);
    },
  },
};

const USAGE = `Usage: routines <command> [options]
       routines <command> --help
       routines --help | --version

Commands:
${Object.values(COMMANDS).map((command) => `  ${command.usage}`).join("\n")}

The token, runs, disable and enable commands use the server's database under DATA_DIR (default ./data).
Like the server, the command first applies .env from the current directory: its values win over
the environment's.
`;

const commandUsage = (command: Command) => `Usage: routines ${command.usage}\n`;

/** The terminal's reader, opened at the first question and closed by `program`; its lines stay buffered, so answers typed ahead are kept. */
let terminal: { reader: import("node:readline").Interface; lines: AsyncIterator<string> } | undefined;

/** A question on the terminal, for commands that ask when nobody gave the answer as an option. */
async function askOnTerminal(question: string): Promise<string> {
  if (!terminal) {
    const { createInterface } = await import("node:readline");
    const reader = createInterface({ input: process.stdin, output: process.stdout });
    // Ctrl-C ends the reader, as the end of input (Ctrl-D) does.
    reader.on("SIGINT", () => reader.close());
    terminal = { reader, lines: reader[Symbol.asyncIterator]() };
  }
  terminal.reader.setPrompt(question);
  terminal.reader.prompt();
  const line = await terminal.lines.next();
  if (line.done) throw new CliError("no answer; nothing was written", 130);
  return line.value;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  // Only a terminal is asked: a script or a pipe gets an error naming the option instead of a wait.
  ...(process.stdin.isTTY ? { ask: askOnTerminal } : {}),
};

/** The version in package.json, which sits beside both src/ and dist/. */
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Runs the command line and resolves to the exit status. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      io.out(USAGE);
      return 2;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      io.out(USAGE);
      return 0;
    }
    if (name === "--version" || name === "-V") {
      io.out(`${await version()}\n`);
      return 0;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new CliError(name.startsWith("-") ? `unknown option "${name}"\n\n${USAGE}` : `unknown command "${name}"\n\n${USAGE}`, 2);
    // Each command takes its own options: one it does not know is an error, not ignored.
    const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...command.options, help: { type: "boolean", short: "h" } } });
    if (values.help) {
      io.out(commandUsage(command));
      return 0;
    }
    return await command.run(positionals, values, io);
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
  try {
    return await main(argv);
  } finally {
    terminal?.reader.close();
  }
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await program(process.argv.slice(2));
}
