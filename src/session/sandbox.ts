// Every command the agent runs, the setup script and stdio connectors run in the sandbox, under
// every network level: @anthropic-ai/sandbox-runtime (bubblewrap) with a PID namespace of their
// own, so no process of the server is visible and nothing they start outlives them. What they see
// of the filesystem is denied by default: the system (/usr, /bin, /lib*, /etc without its secret
// files), their own working tree, HOME and temporary directory, nothing else; the server's own
// files (working directory, data directory, private key, …) are denied besides, wherever they are.
// Writes go only to the working tree, HOME and temporary directory. The network level decides the
// rest: `none`, `trusted` and custom lists cut the network off and let a filtering proxy reach the
// allowed hosts; `full` leaves the network open, and only repositories the operator lists get it.
import { repositoryPatternScore } from "../config/repository-pattern.js";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Environment } from "../config/schema.js";
import type { Launcher } from "./launch.js";
import { MAX_SOCKET_DIR } from "./run-directory.js";
import { sandboxRunner } from "./sandbox-runner.js";
import type { CommandPrograms } from "./sandbox-dispatcher.js";
import { sandboxShell, type SandboxShell } from "./sandbox-shell.js";

/** Hosts of `network: trusted`: package registries and common development hosts. */
export const TRUSTED_DOMAINS = [
  "registry.npmjs.org", "*.npmjs.org", "registry.yarnpkg.com", "*.yarnpkg.com",
  "pypi.org", "*.pypi.org", "files.pythonhosted.org", "*.pythonhosted.org",
  "github.com", "*.github.com", "*.githubusercontent.com", "codeload.github.com",
  "proxy.golang.org", "sum.golang.org", "crates.io", "*.crates.io",
  "rubygems.org", "*.rubygems.org", "repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org", "services.gradle.org",
  "deb.debian.org", "security.debian.org", "archive.ubuntu.com", "security.ubuntu.com", "dl-cdn.alpinelinux.org",
  "registry.hub.docker.com", "registry-1.docker.io", "*.docker.io", "ghcr.io",
];

export type NetworkLevel = NonNullable<Environment["network"]>;

/** Whether a policy's host patterns allow `host`: `*.example.com` matches any subdomain. */
export const hostAllowed = (host: string, patterns: readonly string[]) =>
  patterns.some((pattern) => (pattern.startsWith("*.") ? host.endsWith(pattern.slice(1).toLowerCase()) : host === pattern.toLowerCase()));

export function allowedDomains(environment: Environment | undefined): string[] | undefined {
  const level: NetworkLevel = environment?.network ?? "trusted";
  if (level === "full") return undefined;
  if (level === "none") return [];
  if (level === "trusted") return TRUSTED_DOMAINS;
  return [...(environment?.allowed_domains ?? []), ...(environment?.include_trusted_domains ? TRUSTED_DOMAINS : [])];
}

export class NetworkNotGrantedError extends Error {
  override name = "NetworkNotGrantedError";
}

/** Whether `repository` ("owner/name") is one the operator lists: `owner/name`, `owner/*`, or `*` for all. */
export function fullNetworkGranted(repository: string | undefined, granted: readonly string[]): boolean {
  const [owner = "", repo = ""] = (repository ?? "").split("/");
  return granted.some((entry) => entry === "*" || (repository !== undefined && repositoryPatternScore(entry, { owner, repo }) > 0));
}

/**
 * The environment a run gets. `network: full` only for a repository the operator lists (else the
 * run cannot start: the error names the setting), and never for a pull request from a fork, whose
 * run gets `trusted` instead, like the secrets it goes without.
 */
export function grantNetwork(
  environment: Environment | undefined,
  run: { repository?: string; fork: boolean },
  granted: readonly string[],
): { environment: Environment | undefined; warning?: string } {
  if (environment?.network !== "full") return { environment };
  if (run.fork) {
    return { environment: { ...environment, network: "trusted" }, warning: "network: full is never given to a pull request from a fork: this run's commands have network: trusted" };
  }
  if (fullNetworkGranted(run.repository, granted)) return { environment };
  const owner = run.repository?.split("/")[0];
  throw new NetworkNotGrantedError(
    `network: full is not granted to ${run.repository ?? "this run"}: the operator lists the repositories that may use it in ROUTINES_FULL_NETWORK_REPOSITORIES` +
      `${run.repository ? ` (e.g. ${run.repository} or ${owner}/*)` : ""}; otherwise the routine's environment can use network: trusted or custom with allowed_domains`,
  );
}

export interface SandboxPaths {
  /** Where commands may write (and read): the working tree (first), the run's HOME. */
  writable: string[];
  /**
   * The server's own files, denied wherever they are, also inside the system directories: its
   * working directory, data directory, private key, connectors file, HOME, the runs' root.
   */
  hidden: string[];
  /** The run's temporary directory: commands' TMPDIR, writable. */
  tmp: string;
  /** Where the sandbox keeps its settings: the run's, not visible to commands. */
  state: string;
  /** Where srt keeps its proxy sockets: a short path (see run-directory.ts), read back inside the sandbox. */
  sockets: string;
}

const SRT = createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime");

/** What commands may read of the system. Everything else at the root is denied. */
const SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

/** Files of the system that hold secrets: denied inside /etc. */
function systemSecrets(): string[] {
  const sshHostKeys = (() => {
    try {
      return readdirSync("/etc/ssh").filter((name) => name.startsWith("ssh_host_")).map((name) => join("/etc/ssh", name));
    } catch {
      return [];
    }
  })();
  return ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssl/private", "/etc/security/opasswd", "/etc/credstore", "/etc/credstore.encrypted", ...sshHostKeys];
}

const SECCOMP_DIR = join(dirname(dirname(SRT)), "vendor", "seccomp");

export class SandboxProgramError extends Error {
  override name = "SandboxProgramError";
}

/**
 * What gives each command of a run's sandbox its namespaces (see sandbox-dispatcher.ts), by
 * absolute path inside the system directories the sandbox reads: util-linux's unshare, srt's
 * seccomp helper for this machine (x64 or arm64), bash.
 */
export function commandPrograms(): CommandPrograms {
  const find = (name: string, places: string[]) => {
    const found = places.find((place) => existsSync(place));
    if (!found) throw new SandboxProgramError(`the sandbox needs ${name}, found in none of ${places.join(", ")}`);
    return realpathSync(found);
  };
  return {
    unshare: find("util-linux's unshare", ["/usr/bin/unshare", "/bin/unshare"]),
    applySeccomp: find("sandbox-runtime's seccomp helper", [join(SECCOMP_DIR, process.arch === "arm64" ? "arm64" : "x64", "apply-seccomp")]),
    bash: find("bash", ["/usr/bin/bash", "/bin/bash"]),
  };
}

/** The system paths to read back, as they exist here: /etc/resolv.conf's target too (systemd-resolved keeps it in /run). */
function systemPaths(): string[] {
  const paths = SYSTEM.filter((path) => existsSync(path));
  const within = (file: string) => paths.some((path) => file.startsWith(`${path}/`));
  try {
    const resolver = realpathSync("/etc/resolv.conf");
    if (!within(resolver)) paths.push(resolver);
  } catch {
    // no resolver configuration: nothing to read back
  }
  // srt's own seccomp helper runs inside the sandbox, wherever the server is installed.
  if (existsSync(SECCOMP_DIR)) paths.push(realpathSync(SECCOMP_DIR));
  // So does the run's dispatcher, with the server's own node (that one file, not its directory).
  const node = realpathSync(process.execPath);
  if (!within(node)) paths.push(node);
  return paths;
}

// What srt keeps commands from writing in the directory it starts in (its "dangerous files": shell
// and git settings, editor and agent folders, git's hooks and config). srt starts in the sandbox's
// own state directory instead of the working tree, because for a path that does not exist it
// leaves an empty file in its place on the host for as long as the sandbox lives, and a run's
// sandbox lives as long as the run: the server's git and file tools would find them in the working
// tree. The protection of those that exist is asked for here, by name; those that do not exist
// may be created, as the run's file tools may anyway (the server reads a run's .mcp.json from
// the repository, not from the working tree). Git's hooks and config are kept whether they exist
// or not, as srt does: the server runs git in the working tree. Their stand-ins are inside .git,
// which git and the file tools leave alone.
const PROTECTED = [".gitconfig", ".gitmodules", ".bashrc", ".bash_profile", ".zshrc", ".zprofile", ".profile", ".ripgreprc", ".mcp.json", ".vscode", ".idea", ".claude/commands", ".claude/agents"];

/** The paths of the working tree `tree` that commands may not write: as srt keeps them in the directory it starts in. */
export function protectedPaths(tree: string): string[] {
  const paths = PROTECTED.map((name) => join(tree, name)).filter((path) => existsSync(path));
  let gitDirectory = false;
  try {
    gitDirectory = statSync(join(tree, ".git")).isDirectory();
  } catch {
    // no .git: nothing of git's to keep
  }
  return gitDirectory ? [...paths, join(tree, ".git/hooks"), join(tree, ".git/config")] : paths;
}

/** srt's settings for the environment's network level and the run's paths. */
export function sandboxSettings(environment: Environment | undefined, paths: SandboxPaths): Record<string, unknown> {
  const domains = allowedDomains(environment);
  return {
    // Without a network section srt leaves the network as it is: `full`.
    ...(domains === undefined ? {} : { network: { allowedDomains: domains, deniedDomains: [], strictAllowlist: true } }),
    filesystem: {
      // "/" is denied child by child, except what allowRead gives back; the explicit denies hold within those.
      denyRead: ["/", ...systemSecrets(), ...paths.hidden],
      // srt binds its proxy sockets before it denies "/": their directory is read back.
      allowRead: [...systemPaths(), paths.sockets],
      allowWrite: [...paths.writable, paths.tmp],
      denyWrite: paths.writable[0] === undefined ? [] : protectedPaths(paths.writable[0]),
    },
  };
}

// srt starts its proxy listeners inside the sandbox (socat on ports 3128 and 1080, fixed in srt) in
// the background and runs the command at once, so a command that connects first can find nothing
// listening ("Failed to connect to localhost port 3128"). Before the command, wait until both
// listen, reading the sandbox's own socket table (no connection made), for 5 s at most. One line,
// so the line numbers in the command's own error messages stay right.
const PROXY_READY =
  '( [ -n "$HTTP_PROXY" ] || exit 0; for _ in {1..500}; do http= socks=; ' +
  'for table in /proc/net/tcp /proc/net/tcp6; do [ -r "$table" ] || continue; ' +
  'while read -r _ address _ state _; do case "$address $state" in *":0C38 0A") http=1 ;; *":0438 0A") socks=1 ;; esac; done < "$table"; done; ' +
  '[ -n "$http" ] && [ -n "$socks" ] && exit 0; sleep 0.01; done ); ';

/** A launcher that runs every command in the sandbox with the environment's network level. */
export async function sandboxLauncher(environment: Environment | undefined, paths: SandboxPaths): Promise<Launcher> {
  // srt keeps its own files (proxy sockets, empty stand-ins) in its TMPDIR, given to the runner
  // apart from the command's own: the run's, removed with the run.
  const { sockets } = paths;
  if (sockets.length > MAX_SOCKET_DIR) throw new Error(`the sandbox's socket directory ${sockets} is longer than ${MAX_SOCKET_DIR} characters, too long for a socket's path`);
  // The run's dispatcher runs the server's node inside the sandbox (see sandbox-shell.ts).
  const node = realpathSync(process.execPath);
  const hiding = paths.hidden.find((path) => node === path || node.startsWith(`${path}/`));
  if (hiding) {
    throw new SandboxProgramError(
      `the server's node (${node}) is inside ${hiding}, which commands may not see, and the run's sandbox runs it: install Node.js outside the server's HOME, working and data directories (e.g. under /usr/local)`,
    );
  }
  await mkdir(sockets, { recursive: true, mode: 0o700 });
  const settings = join(paths.state, "settings.json");
  await writeFile(settings, JSON.stringify(sandboxSettings(environment, paths)));
  const runner = sandboxRunner(pathToFileURL(SRT).href);
  // The run's temporary directory is the command's TMPDIR under every level: srt gives commands
  // CLAUDE_CODE_TMPDIR when it cuts the network (its default, /tmp/claude, does not exist in the
  // sandbox), and the runner passes TMPDIR on otherwise.
  return (command) => ({
    file: "env",
    args: [`CLAUDE_CODE_TMPDIR=${paths.tmp}`, `TMPDIR=${paths.tmp}`, process.execPath, "--input-type=module", "--eval", runner, settings, sockets, paths.state, PROXY_READY + command],
  });
}

/** A hint for the model when the policy blocked a connection, naming the hosts and the policy. */
export function blockedHint(output: string, environment: Environment | undefined, command = ""): string | undefined {
  if (!/blocked by network allowlist|blocked-by-allowlist|CONNECT tunnel failed, response 403|returned error: 403/.test(output)) return undefined;
  const level = environment?.network ?? "trusted";
  const domains = allowedDomains(environment) ?? [];
  const allows = (host: string) => hostAllowed(host, domains);
  const hosts = [...new Set([...`${command}\n${output}`.matchAll(/\b(?:https?|wss?):\/\/([^/\s:'"@]+)/g)].map((match) => match[1]!))].filter((host) => !allows(host));
  const what = hosts.length > 0 ? `a connection to ${hosts.join(", ")}` : "a connection";
  const allowed = domains.length === 0 ? "no hosts" : domains.length > 8 ? `${domains.slice(0, 8).join(", ")} and more` : domains.join(", ");
  return `[The network policy "${level}" blocked ${what}: it allows ${allowed}. Other hosts cannot be reached from this routine's environment.]`;
}

/** Whether this host can run the sandbox as commands get it (a run's sandbox, one command in it), and why not. */
export async function sandboxSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-sandbox-probe-")));
  let shell: SandboxShell | undefined;
  try {
    const launch = await sandboxLauncher({ network: "none" }, { writable: [dir], hidden: [], tmp: dir, state: dir, sockets: join(dir, "srt") });
    shell = sandboxShell({ launch, cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, programs: commandPrograms() });
    const { code, output } = await shell.run({ command: "echo sandboxed", cwd: dir, timeoutMs: 30_000, timeoutReason: "the sandbox probe timed out after 30s" });
    if (code === 0 && output.includes("sandboxed")) return { ok: true };
    return { ok: false, reason: lastLines(output) || "the sandbox probe printed nothing" };
  } catch (error) {
    return { ok: false, reason: lastLines((error as Error).message) };
  } finally {
    await shell?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const lastLines = (text: string) => text.trim().split("\n").slice(-3).join(" ");
