// `routines init [--use <uses>] [--force]`: writes .claude/routines.yml (and its prompt files) for
// the chosen templates into the checkout it runs in, checks what it wrote as `validate` does, and
// says what to do next.
import { existsSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describeTrigger } from "../config/describe.js";
import { CONFIG_PATH } from "../config/read-config-file.js";
import type { RoutinesConfig } from "../config/validate.js";
import { CliError, type Io } from "./io.js";
import { combineTemplates, isUse, TEMPLATES, USES, type Use } from "./templates.js";
import { countErrors, loadConfigFile } from "./validate.js";

export interface InitOptions {
  /** The uses as given to --use: names separated by commas or spaces. */
  use?: string;
  force: boolean;
  /** Where the command runs; the checkout is found from there. */
  cwd: string;
}

const known = () => USES.join(", ");

/** The uses named in `text`, each once, in the order given; an unknown one is an error naming the known ones. */
export function parseUses(text: string): Use[] {
  const names = text.split(/[\s,]+/).filter(Boolean);
  if (names.length === 0) throw new CliError(`--use needs at least one of: ${known()}`, 2);
  const unknown = names.filter((name) => !isUse(name));
  if (unknown.length > 0) throw new CliError(`unknown use${unknown.length === 1 ? "" : "s"} ${unknown.map((name) => `"${name}"`).join(", ")}; choose from ${known()}`, 2);
  return [...new Set(names as Use[])];
}

/** Asks for the uses with a numbered list; answers are numbers or names. Empty means the first, review. */
async function askUses(ask: (question: string) => Promise<string>, io: Io): Promise<Use[]> {
  const width = Math.max(...USES.map((use) => use.length));
  io.out(`Which routines should this repository start with?\n${USES.map((use, i) => `  ${i + 1}. ${use.padEnd(width)}  ${TEMPLATES[use]}`).join("\n")}\n`);
  for (let attempt = 1; ; attempt++) {
    const answer = (await ask(`Numbers or names, separated by commas [1]: `)).trim();
    const words = answer === "" ? ["1"] : answer.split(/[\s,]+/).filter(Boolean);
    try {
      return parseUses(words.map((word) => (/^\d+$/.test(word) ? (USES[Number(word) - 1] ?? word) : word)).join(","));
    } catch (error) {
      if (attempt === 3) throw error;
      io.out(`${(error as Error).message}\n`);
    }
  }
}

/** The checkout around `cwd`: the nearest folder with a .git entry. */
function checkoutRoot(cwd: string): string {
  for (let folder = resolve(cwd); ; folder = dirname(folder)) {
    if (existsSync(join(folder, ".git"))) return folder;
    if (dirname(folder) === folder) throw new CliError("not in a git checkout: run routines init in the repository the routines are for", 2);
  }
}

/** owner/name of the checkout's origin on GitHub, for the token command; a placeholder when it cannot tell. */
async function repositoryName(root: string): Promise<string> {
  const config = join(root, ".git", "config");
  if (!statSync(join(root, ".git")).isDirectory()) return "<owner/name>";
  const text = await readFile(config, "utf8").catch(() => "");
  const origin = /\[remote "origin"\][^[]*?\burl\s*=\s*(\S+)/.exec(text)?.[1];
  const name = origin && /[/:]([A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9._-]+?)(?:\.git)?\/?$/.exec(origin)?.[1];
  return name || "<owner/name>";
}

export async function init(options: InitOptions, io: Io): Promise<number> {
  const root = checkoutRoot(options.cwd);
  let uses: Use[];
  if (options.use !== undefined) uses = parseUses(options.use);
  else if (io.ask) uses = await askUses(io.ask, io);
  else throw new CliError(`say which routines to write: --use <uses>, one or more of ${known()} (e.g. --use review,docs-drift)`, 2);

  const written = await combineTemplates(uses);
  const files = new Map([[CONFIG_PATH, written.config], ...written.prompts]);
  const shown = (path: string) => relative(options.cwd, join(root, path)) || path;
  const present = [...files.keys()].filter((path) => existsSync(join(root, path)));
  if (present.length > 0 && !options.force) {
    throw new CliError(`${present.map(shown).join(", ")} already exist${present.length === 1 ? "s" : ""}; nothing was written. Rerun with --force to replace ${present.length === 1 ? "it" : "them"}.`, 1);
  }
  for (const [path, text] of files) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  io.out(`Wrote ${[...files.keys()].map(shown).join(", ")}${present.length > 0 ? ` (replacing ${present.map(shown).join(", ")})` : ""}.\n`);

  // Problems are printed with the path as the user would type it, from where the command runs.
  const configFile = resolve(options.cwd) === process.cwd() ? shown(CONFIG_PATH) : join(root, CONFIG_PATH);
  const config = await loadConfigFile(configFile, io);
  const errors = countErrors(config);
  if (errors > 0) {
    io.out(`${configFile}: ${errors} error${errors === 1 ? "" : "s"}; fix ${errors === 1 ? "it" : "them"} before committing.\n`);
    return 1;
  }
  const names = Object.keys(config.routines);
  io.out(`${configFile}: valid, ${names.length} routine${names.length === 1 ? "" : "s"} (${names.join(", ")})\n\n`);
  io.out(nextSteps(config.routines, await repositoryName(root)));
  return 0;
}

/** What to do with the file, what starts each routine, and the token command of each api-triggered one. */
function nextSteps(routines: RoutinesConfig["routines"], repository: string): string {
  const width = Math.max(...Object.keys(routines).map((name) => name.length));
  const triggers = Object.entries(routines).flatMap(([name, routine]) =>
    (routine.triggers ?? []).map((trigger, i) => `       ${(i === 0 ? name : "").padEnd(width)}  ${describeTrigger(trigger, name)}`),
  );
  const withApi = Object.entries(routines).filter(([, routine]) => (routine.triggers ?? []).some((trigger) => "api" in trigger)).map(([name]) => name);
  const steps = [
    `  1. Commit it and merge it into the default branch, where the app reads it (a pull request that\n     changes it gets the routines/config check):\n       git add .claude && git commit -m "Add routines" && git push`,
    `  2. What starts each routine:\n${triggers.join("\n")}`,
  ];
  if (withApi.length > 0) {
    steps.push(
      `  3. On the server, create the token of each API-triggered routine (it prints the URL and the token\n     once; or use the routine's card in the dashboard):\n${withApi.map((name) => `       routines token create --repo ${repository} --routine ${name}`).join("\n")}`,
    );
  }
  return `Next steps:\n${steps.join("\n")}\n`;
}
