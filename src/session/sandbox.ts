// The environment's network policy, enforced for every command the agent runs, the setup script
// and stdio connectors: each runs under @anthropic-ai/sandbox-runtime (bubblewrap with its network
// namespace cut off, and a filtering proxy that allows only the policy's hosts). The sandbox also
// keeps writes inside the working tree and the run's own temporary files, and hides the server's
// files (data directory, private key). Policy `full` runs commands without the sandbox.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Environment } from "../config/schema.js";

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
}

/** How a command is started: the program and its arguments. */
export interface Launch {
  file: string;
  args: string[];
}

export type Launcher = (command: string) => Launch;

/** Plain bash: for `full` network, and for hosts that cannot sandbox when the operator allows it. */
export const unsandboxed: Launcher = (command) => ({ file: "bash", args: ["-c", command] });

const SRT = createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime/dist/cli.js");

/** A launcher that runs every command in the sandbox with the environment's policy. */
export async function sandboxLauncher(environment: Environment | undefined, paths: SandboxPaths): Promise<Launcher> {
  const domains = allowedDomains(environment);
  if (domains === undefined) return unsandboxed;
  const settings = join(await mkdtemp(join(tmpdir(), "routines-sandbox-")), "settings.json");
  await writeFile(
    settings,
    JSON.stringify({
      network: { allowedDomains: domains, deniedDomains: [], strictAllowlist: true },
      filesystem: { denyRead: paths.hidden, allowWrite: paths.writable, denyWrite: [] },
    }),
  );
  return (command) => ({ file: process.execPath, args: [SRT, "-s", settings, "-c", command] });
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
  await writeFile(settings, JSON.stringify({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [dir], denyWrite: [] } }));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [SRT, "-s", settings, "-c", "echo sandboxed"], { cwd: dir, timeout: 30_000 });
    return stdout.includes("sandboxed") ? { ok: true } : { ok: false, reason: "the sandbox probe printed nothing" };
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    return { ok: false, reason: (failure.stderr || failure.message).trim().split("\n").slice(-3).join(" ") };
  }
}
