// The environment's network policy, enforced for every command the agent runs, the setup script
// and stdio connectors: each runs under @anthropic-ai/sandbox-runtime (bubblewrap with its network
// namespace cut off, and a filtering proxy that allows only the policy's hosts). The sandbox also
// keeps writes inside the working tree, the run's HOME and its temporary directory, and hides the
// server's files (data directory, private key). Policy `full` runs commands without the sandbox.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Environment } from "../config/schema.js";
import { unsandboxed, type Launcher } from "./launch.js";

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

export function allowedDomains(environment: Environment | undefined): string[] | undefined {
  const level: NetworkLevel = environment?.network ?? "trusted";
  if (level === "full") return undefined;
  if (level === "none") return [];
  if (level === "trusted") return TRUSTED_DOMAINS;
  return [...(environment?.allowed_domains ?? []), ...(environment?.include_trusted_domains ? TRUSTED_DOMAINS : [])];
}

export interface SandboxPaths {
  /** Where commands may write: the working tree, the run's HOME, the setup cache. */
  writable: string[];
  /** What commands may not read: the server's data directory, its private key. */
  hidden: string[];
  /** The run's temporary directory: commands' TMPDIR, writable. */
  tmp: string;
  /** Where the sandbox keeps its own files (its settings, proxy sockets): the run's, not writable by commands. */
  state: string;
}

const SRT = createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime/dist/cli.js");

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

// Unix socket paths are at most 107 bytes, and srt names its proxy sockets in its TMPDIR.
const MAX_SOCKET_DIR = 64;

/** A launcher that runs every command in the sandbox with the environment's policy. */
export async function sandboxLauncher(environment: Environment | undefined, paths: SandboxPaths): Promise<Launcher> {
  const domains = allowedDomains(environment);
  if (domains === undefined) return unsandboxed;
  const settings = join(paths.state, "settings.json");
  await writeFile(
    settings,
    JSON.stringify({
      network: { allowedDomains: domains, deniedDomains: [], strictAllowlist: true },
      filesystem: { denyRead: paths.hidden, allowWrite: [...paths.writable, paths.tmp], denyWrite: [] },
    }),
  );
  // srt gives commands CLAUDE_CODE_TMPDIR as their TMPDIR (its default, /tmp/claude, does not
  // exist in the sandbox), and keeps its own files in its TMPDIR: in the run's directory, which is
  // removed with the run, rather than left behind in the server's.
  const own = paths.state.length <= MAX_SOCKET_DIR ? paths.state : tmpdir();
  return (command) => ({ file: "env", args: [`CLAUDE_CODE_TMPDIR=${paths.tmp}`, `TMPDIR=${own}`, process.execPath, SRT, "-s", settings, "-c", PROXY_READY + command] });
}

/** A hint for the model when the policy blocked a connection, naming the hosts and the policy. */
export function blockedHint(output: string, environment: Environment | undefined, command = ""): string | undefined {
  if (!/blocked by network allowlist|blocked-by-allowlist|CONNECT tunnel failed, response 403|returned error: 403/.test(output)) return undefined;
  const level = environment?.network ?? "trusted";
  const domains = allowedDomains(environment) ?? [];
  const allows = (host: string) => domains.some((pattern) => (pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) : host === pattern));
  const hosts = [...new Set([...`${command}\n${output}`.matchAll(/\b(?:https?|wss?):\/\/([^/\s:'"@]+)/g)].map((match) => match[1]!))].filter((host) => !allows(host));
  const what = hosts.length > 0 ? `a connection to ${hosts.join(", ")}` : "a connection";
  const allowed = domains.length === 0 ? "no hosts" : domains.length > 8 ? `${domains.slice(0, 8).join(", ")} and more` : domains.join(", ");
  return `[The network policy "${level}" blocked ${what}: it allows ${allowed}. Other hosts cannot be reached from this routine's environment.]`;
}

/** Whether this host can run the sandbox, and why not. */
export async function sandboxSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await mkdtemp(join(tmpdir(), "routines-sandbox-probe-"));
  const settings = join(dir, "settings.json");
  try {
    await writeFile(settings, JSON.stringify({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [dir], denyWrite: [] } }));
    // Its TMPDIR is the probe's directory, so srt's proxy socket goes with it.
    const { stdout } = await promisify(execFile)(process.execPath, [SRT, "-s", settings, "-c", "echo sandboxed"], { cwd: dir, env: { ...process.env, TMPDIR: dir }, timeout: 30_000 });
    return stdout.includes("sandboxed") ? { ok: true } : { ok: false, reason: "the sandbox probe printed nothing" };
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    return { ok: false, reason: (failure.stderr || failure.message).trim().split("\n").slice(-3).join(" ") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
