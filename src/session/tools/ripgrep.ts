// ripgrep as the grep tool runs it: a child process (the search never runs on the server's
// thread), started without a shell and with an environment of its own (PATH alone: no secret of
// the server's, no RIPGREP_CONFIG_PATH), and, where bubblewrap works, inside a mount namespace that
// holds the working tree, read-only, and the system's programs and libraries, nothing else.
//
// Why the namespace: ripgrep does not follow links, but it opens files by path, one directory at a
// time. A command running alongside can swap a directory it has just listed for a link to "/", and
// the next file would be opened through it: out of the tree, into the server's key or `.env`. In
// the namespace every path, links included, resolves inside the tree or the system's read-only
// programs, which commands see anyway. Hosts where bubblewrap cannot run have no command sandbox
// either (ROUTINES_ALLOW_UNSANDBOXED): there ripgrep runs in the tree directly, which exposes
// nothing the run's commands could not read themselves.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { ToolError } from "../define-tool.js";

/** Where the working tree is inside the namespace. */
const TREE = "/tree";
/** The system ripgrep needs: programs and shared libraries. Absent ones are skipped. */
const SYSTEM = ["/usr", "/lib", "/lib64", "/lib32", "/bin"];

export interface RipgrepRun {
  /** The working tree (a real path, the server's own). */
  root: string;
  /** Where ripgrep runs, relative to the root ("" for the root itself). */
  cwd: string;
  /** ripgrep's arguments. */
  args: string[];
  /** Kills ripgrep when it fires. */
  signal: AbortSignal;
  /** Each chunk of ripgrep's standard output; returning false stops ripgrep (enough was read). */
  onOutput(chunk: Buffer): boolean;
}

export interface RipgrepExit {
  /** ripgrep's exit code: 0 found, 1 nothing found, 2 an error (some files may still have been searched); null when killed. */
  code: number | null;
  /** The start of what ripgrep wrote to standard error. */
  stderr: string;
}

let program: string | undefined;

/** The absolute path of `rg` on the server's PATH (looked up once). */
function ripgrepPath(): string {
  if (program) return program;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir.startsWith("/")) continue;
    try {
      accessSync(join(dir, "rg"), constants.X_OK);
      return (program = join(dir, "rg"));
    } catch {
      // not here
    }
  }
  throw new ToolError("ripgrep (rg) is not installed on the server; the operator installs it (apt-get install ripgrep)");
}

let confined: Promise<boolean> | undefined;

/** Whether bubblewrap can make the namespace here (tried once, with ripgrep itself). */
function canConfine(): Promise<boolean> {
  confined ??= new Promise<boolean>((resolve) => {
    const { file, args } = confinedCommand("/", "", ["--version"]);
    const child = spawn(file, args, { stdio: "ignore", env: environment() });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
  return confined;
}

/** Tries bubblewrap (and finds ripgrep) ahead of the first search: called as a session starts. */
export function prepareRipgrep(): void {
  canConfine().catch(() => undefined);
}

const environment = (): NodeJS.ProcessEnv => ({ PATH: "/usr/local/bin:/usr/bin:/bin" });

/** bubblewrap's command line for ripgrep in `root`'s namespace, running in `cwd` (relative to the root). */
function confinedCommand(root: string, cwd: string, args: string[]): { file: string; args: string[] } {
  const rg = ripgrepPath();
  const system = SYSTEM.flatMap((path) => ["--ro-bind-try", path, path]);
  // ripgrep installed outside the system's directories (e.g. ~/.cargo/bin) comes in by itself.
  const own = SYSTEM.some((path) => rg.startsWith(`${path}/`)) ? [] : ["--ro-bind", rg, rg];
  return {
    file: "bwrap",
    args: [
      "--unshare-all",
      "--die-with-parent",
      "--new-session",
      "--cap-drop",
      "ALL",
      ...system,
      ...own,
      "--ro-bind",
      root,
      TREE,
      "--chdir",
      cwd === "" ? TREE : `${TREE}/${cwd}`,
      "--",
      rg,
      ...args,
    ],
  };
}

/** Runs ripgrep in the working tree (see the top), streaming its output to `onOutput`. */
export async function runRipgrep({ root, cwd, args, signal, onOutput }: RipgrepRun): Promise<RipgrepExit> {
  const command = (await canConfine()) ? confinedCommand(root, cwd, ["--no-config", ...args]) : { file: ripgrepPath(), args: ["--no-config", ...args] };
  return new Promise<RipgrepExit>((resolve, reject) => {
    if (signal.aborted) return resolve({ code: null, stderr: "" });
    const child = spawn(command.file, command.args, {
      cwd: command.file === "bwrap" ? "/" : join(root, cwd),
      env: environment(),
      stdio: ["ignore", "pipe", "pipe"],
      // A group of its own, killed as one: bubblewrap stopped while it sets up the namespace
      // leaves a child that waits forever, holding the output open.
      detached: true,
    });
    let stderr = "";
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    signal.addEventListener("abort", stop, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      if (!onOutput(chunk)) stop();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    child.on("error", (error) => {
      signal.removeEventListener("abort", stop);
      reject(new ToolError(`ripgrep could not start: ${error.message}`));
    });
    child.on("close", (code) => {
      signal.removeEventListener("abort", stop);
      resolve({ code, stderr });
    });
  });
}
