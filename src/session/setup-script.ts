// The environment's setup script, run in the working tree before the agent starts. Its result is
// cached: keyed by the script, the environment and the repository's lockfiles, the top-level
// paths it created (node_modules, .venv, vendor, …) are saved once and restored on later runs
// instead of running it again. A failed setup is never cached.
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatDuration } from "../config/duration.js";
import { truncate } from "./define-tool.js";
import { processRunner, type CommandRunner } from "./run-command.js";

export const DEFAULT_SETUP_TIMEOUT_MS = 10 * 60_000;

/** Lockfiles whose content decides whether a cached setup still fits the repository. */
const LOCKFILES = [
  "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "Gemfile.lock", "poetry.lock", "uv.lock",
  "Pipfile.lock", "requirements.txt", "Cargo.lock", "go.sum", "composer.lock", "mix.lock", "pubspec.lock", "Package.resolved",
];

export class SetupError extends Error {
  override name = "SetupError";
}

export interface SetupOptions {
  script: string;
  root: string;
  /** The command environment (the environment's variables and secrets included). */
  env: Record<string, string>;
  /** What besides the script and lockfiles the result depends on, e.g. the environment's settings. */
  keyParts: unknown;
  timeoutMs: number;
  /** How the time limit reads when it stops the script; default: "it ran longer than <timeoutMs>". */
  timeoutReason?: string;
  /** Where results are kept; without it the script always runs. */
  cacheDir?: string;
  signal?: AbortSignal;
  /** Where the script runs: in the run's sandbox, or its own process; without it, plain bash in `env`. */
  commands?: CommandRunner;
}

export interface SetupResult {
  cached: boolean;
  /** Top-level paths restored from the cache, or saved to it. */
  paths: string[];
  output?: string;
  durationMs: number;
}

async function cacheKey(options: SetupOptions): Promise<string> {
  const hash = createHash("sha256").update(options.script).update(JSON.stringify(options.keyParts));
  for (const name of LOCKFILES) {
    const content = await readFile(join(options.root, name)).catch(() => undefined);
    if (content) hash.update(`\0${name}\0`).update(content);
  }
  return hash.digest("hex").slice(0, 32);
}

async function runScript(options: SetupOptions): Promise<string> {
  const { code, stopped, output } = await (options.commands ?? processRunner(options.env)).run({
    command: options.script,
    cwd: options.root,
    timeoutMs: options.timeoutMs,
    timeoutReason: options.timeoutReason ?? `it ran longer than ${formatDuration(options.timeoutMs)}`,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = truncate(output.trimEnd());
  if (stopped) throw new SetupError(`the setup script was stopped: ${stopped}\n${text}`);
  if (code !== 0) throw new SetupError(`the setup script failed with exit code ${code}\n${text}`);
  return text;
}

export async function runSetup(options: SetupOptions): Promise<SetupResult> {
  const started = Date.now();
  const key = options.cacheDir ? await cacheKey(options) : undefined;
  const entry = key && options.cacheDir ? join(options.cacheDir, key) : undefined;
  if (entry) {
    const manifest = await readFile(join(entry, "manifest.json"), "utf8").catch(() => undefined);
    if (manifest) {
      const paths = JSON.parse(manifest) as string[];
      for (const path of paths) await cp(join(entry, "files", path), join(options.root, path), { recursive: true, force: true, verbatimSymlinks: true });
      return { cached: true, paths, durationMs: Date.now() - started };
    }
  }

  const before = new Set(await readdir(options.root));
  const output = await runScript(options);
  const created = (await readdir(options.root)).filter((name) => !before.has(name)).sort();
  if (entry && options.cacheDir) {
    // Written beside the cache and renamed into place, so a half-written entry is never used.
    const partial = join(options.cacheDir, `${key}.partial-${process.pid}-${Date.now()}`);
    await mkdir(join(partial, "files"), { recursive: true });
    for (const path of created) await cp(join(options.root, path), join(partial, "files", path), { recursive: true, verbatimSymlinks: true });
    await writeFile(join(partial, "manifest.json"), JSON.stringify(created));
    await rename(partial, entry).catch(() => rm(partial, { recursive: true, force: true }));
  }
  return { cached: false, paths: created, output, durationMs: Date.now() - started };
}
