import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chmod, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Anthropic from "@anthropic-ai/sdk";
import { Environment } from "../../src/config/schema.js";
import { openConnectors } from "../../src/session/connectors.js";
import { runCommand } from "../../src/session/run-command.js";
import { runSession, SandboxUnavailableError } from "../../src/session/run-session.js";
import { inOwnSession, tieToServer, unsandboxed, type Launcher } from "../../src/session/launch.js";
import { createRunDirectory, type RunDirectory } from "../../src/session/run-directory.js";
import { allowedDomains, blockedHint, commandPrograms, grantNetwork, NetworkNotGrantedError, sandboxLauncher, sandboxSettings, sandboxSupport, TRUSTED_DOMAINS } from "../../src/session/sandbox.js";
import { sandboxShell, type SandboxShell } from "../../src/session/sandbox-shell.js";
import { runSetup } from "../../src/session/setup-script.js";
import { shell } from "../../src/session/tools/shell.js";
import { startFakeModel, type FakeModel } from "../support/fake-model.js";
import { TINY_MCP_SERVER } from "../support/tiny-mcp-server.js";

// Policies are tested against a server on this machine: inside the sandbox the network is cut
// off, and only the filtering proxy reaches out, for the hosts the policy allows. `--noproxy ''`
// makes curl use the proxy even for localhost.
let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((_, res) => res.end("hello from the host"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Writes to stdout and stderr by turns, faster than the server reads either. */
const INTERLEAVED = "for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done";
const INTERLEAVED_OUTPUT = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `out${i}\nerr${i}\n`).join("");
const environment = (value: unknown) => Environment.parse(value);
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", ROUTINE_VAR: "visible" };

const runDirectories: RunDirectory[] = [];
const shells: SandboxShell[] = [];
afterAll(async () => {
  await Promise.all(shells.map((opened) => opened.close()));
  await Promise.all(runDirectories.map((dir) => dir.remove()));
});

/** A run's sandbox in `root`, closed after the tests. */
function openShell(launch: Launcher, root: string, commandEnv: Record<string, string>): SandboxShell {
  const opened = sandboxShell({ launch, cwd: root, env: commandEnv, programs: commandPrograms() });
  shells.push(opened);
  return opened;
}

async function sandboxedShell(policy: unknown, hidden: string[] = []) {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-sbx-")));
  const dir = await createRunDirectory();
  runDirectories.push(dir);
  const launch = await sandboxLauncher(environment(policy), { writable: [root, dir.home], hidden, tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
  const commandEnv = { ...env, HOME: dir.home };
  const commands = openShell(launch, root, commandEnv);
  const run = (command: string) =>
    shell.run({ command }, { root, env: commandEnv, signal: new AbortController().signal, commands, networkHint: (output, command) => blockedHint(output, environment(policy), command) });
  return { root, dir, run, commands };
}
const fetchHost = () => `curl --noproxy '' -fsS --max-time 10 http://localhost:${port}/`;

describe("the sandbox", () => {
  it("can run on this host", async () => {
    expect(await sandboxSupport()).toEqual({ ok: true });
  });

  it("lets through only the hosts of the policy, and says which policy blocked a connection", async () => {
    const custom = await sandboxedShell({ network: "custom", allowed_domains: ["localhost"] });
    expect((await custom.run(fetchHost())).output).toBe("Exit code: 0.\nhello from the host");

    const none = await sandboxedShell({ network: "none" });
    const blocked = await none.run(fetchHost());
    expect(blocked.isError).toBe(true);
    expect(blocked.output).toContain("The requested URL returned error: 403");
    expect(blocked.output).toContain('[The network policy "none" blocked a connection to localhost: it allows no hosts. Other hosts cannot be reached from this routine\'s environment.]');

    // custom lets through only its hosts: the same server by another name is blocked.
    const other = await custom.run(`curl --noproxy '' -fsS --max-time 10 http://127.0.0.1:${port}/`);
    expect(other.output).toContain('The network policy "custom" blocked a connection to 127.0.0.1: it allows localhost.');

    // full runs commands in the sandbox with the network as it is: both names answer.
    const full = await sandboxedShell({ network: "full" });
    expect((await full.run(`${fetchHost()} && curl -fsS http://127.0.0.1:${port}/`)).output).toBe("Exit code: 0.\nhello from the hosthello from the host");

    // Going around the proxy finds no network at all.
    expect((await none.run(`curl -sS --max-time 5 http://127.0.0.1:${port}/`)).isError).toBe(true);
    const trusted = await sandboxedShell({ network: "trusted" });
    expect((await trusted.run(fetchHost())).output).toContain("it allows registry.npmjs.org, *.npmjs.org");
  });

  it("keeps writes inside the working tree and hides the server's files", async () => {
    const secretDir = await mkdtemp(join(tmpdir(), "routines-server-data-"));
    await writeFile(join(secretDir, "private-key.pem"), "-----BEGIN PRIVATE KEY-----");
    const { root, run } = await sandboxedShell({ network: "none" }, [secretDir]);
    const outside = join(await mkdtemp(join(tmpdir(), "routines-outside-")), "x");
    const result = await run(`echo inside > inside.txt; echo outside > ${outside}; cat ${secretDir}/private-key.pem; echo "$ROUTINE_VAR"`);
    expect(await readFile(join(root, "inside.txt"), "utf8")).toBe("inside\n");
    // Outside its own paths, the host's /tmp is not there at all.
    expect(result.output).toContain(`${outside}: No such file or directory`);
    await expect(readFile(outside)).rejects.toThrow("ENOENT");
    expect(result.output).not.toContain("BEGIN PRIVATE KEY");
    expect(result.output).toContain("visible");
  });

  it("runs the setup script and stdio connectors under the policy too", async () => {
    const { root, dir } = await sandboxedShell({ network: "none" });
    const launch = await sandboxLauncher(environment({ network: "none" }), { writable: [root], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
    await expect(runSetup({ script: fetchHost(), root, env, keyParts: {}, timeoutMs: 20_000, commands: openShell(launch, root, env) })).rejects.toThrow("The requested URL returned error: 403");

    // A connector from the repository (a program outside the system and the tree is not there to run).
    await writeFile(join(root, "connector.mjs"), TINY_MCP_SERVER);
    const serverData = await mkdtemp(join(tmpdir(), "routines-server-data-"));
    await writeFile(join(serverData, "private-key.pem"), "-----BEGIN PRIVATE KEY-----");
    const set = await openConnectors([{ name: "tiny", command: "node", args: ["connector.mjs", join(serverData, "private-key.pem")] }], { env, launch, cwd: root, timeoutMs: 20_000 });
    try {
      expect(set.warnings).toEqual([]);
      const where = set.tools.find((tool) => tool.name === "mcp__tiny__where")!;
      const seen = JSON.parse(/\{.*\}/s.exec((await where.run({}, {} as never)).output)![0]) as { cwd: string; env: Record<string, string>; read: string };
      expect(seen.cwd).toBe(root);
      expect(seen.env.SANDBOX_RUNTIME).toBe("1");
      expect(seen.read).toMatch(/^ENOENT/);
    } finally {
      await set.close();
    }
  }, 30_000);

  it("maps policies to hosts: none, trusted, custom (with or without the trusted list), full", () => {
    expect(allowedDomains(environment({ network: "none" }))).toEqual([]);
    expect(allowedDomains(undefined)).toEqual(TRUSTED_DOMAINS);
    expect(allowedDomains(environment({ network: "custom", allowed_domains: ["api.example.com"] }))).toEqual(["api.example.com"]);
    expect(allowedDomains(environment({ network: "custom", allowed_domains: ["api.example.com"], include_trusted_domains: true }))).toEqual(["api.example.com", ...TRUSTED_DOMAINS]);
    expect(allowedDomains(environment({ network: "full" }))).toBeUndefined();
  });
});

describe("what commands see, under every network level", () => {
  // Files of the server and of the host, outside any run: in the host's /tmp, in the server user's
  // HOME, and a file the server names hidden inside a directory the sandbox reads back.
  const marker = () => `MARK-${Math.random().toString(36).slice(2)}`;
  const files: string[] = [];
  afterAll(() => Promise.all(files.map((file) => rm(file, { recursive: true, force: true }))));
  async function plant(dir: string): Promise<{ path: string; text: string }> {
    const path = join(dir, `routines-sbx-plant-${Math.random().toString(36).slice(2)}`);
    const text = marker();
    await writeFile(path, text);
    files.push(path);
    return { path, text };
  }

  for (const policy of [{ network: "none" }, { network: "trusted" }, { network: "custom", allowed_domains: ["localhost"] }, { network: "full" }]) {
    it(`the system, their own paths and nothing else: network ${policy.network}`, async () => {
      const inTmp = await plant(tmpdir());
      const inHome = await plant(homedir());
      const serverDir = await realpath(await mkdtemp(join(tmpdir(), "routines-sbx-server-")));
      files.push(serverDir);
      const key = await plant(serverDir);
      const { run } = await sandboxedShell(policy, [serverDir]);
      const output = (await run(
        [
          `cat ${inTmp.path} ${inHome.path} ${key.path}`,
          "head -c 40 /etc/shadow",
          "echo processes: $(ls -d /proc/[0-9]* | wc -l)",
          `ls /proc/${process.pid}`,
          'echo mine > "$HOME/h" && echo mine > "$TMPDIR/t" && echo mine > tree && cat "$HOME/h" "$TMPDIR/t" tree',
          "head -1 /etc/passwd && test -x /usr/bin/env && echo system",
        ].join("; "),
      )).output;
      for (const { text } of [inTmp, inHome, key]) expect(output).not.toContain(text);
      expect(output).not.toMatch(/^root:[^x]/m);
      // No process of the host is visible: the PID namespace is the command's own.
      expect(output).toContain(`ls: cannot access '/proc/${process.pid}'`);
      expect(Number(/processes: (\d+)/.exec(output)?.[1])).toBeLessThan(20);
      expect(output).toContain("mine\nmine\nmine");
      expect(output).toContain("root:x:0:0");
      expect(output).toContain("system");
    }, 30_000);
  }

  it("hides the server's files also inside a directory the sandbox reads back", async () => {
    // Only where this user may write below /usr (as root in CI containers); elsewhere the case is void.
    const inSystem = await mkdtemp("/usr/local/routines-sbx-server-").catch(() => undefined);
    if (!inSystem) return;
    files.push(inSystem);
    const key = await plant(inSystem);
    const { run } = await sandboxedShell({ network: "full" }, [inSystem]);
    const output = (await run(`cat ${key.path}; ls /usr/local`)).output;
    expect(output).not.toContain(key.text);
    expect(output).toContain("No such file or directory");
  });

  it("ends background processes with the command that started them", async () => {
    for (const network of ["none", "full"]) {
      const seconds = String(300_000 + Math.floor(Math.random() * 600_000));
      const { run } = await sandboxedShell({ network });
      expect((await run(`(setsid nohup sleep ${seconds} > /dev/null 2>&1 &); nohup sleep ${seconds}1 > /dev/null 2>&1 & disown; echo started`)).output).toBe("Exit code: 0.\nstarted");
      await waitFor(async () => (await mentioning(seconds)).length === 0, 5_000);
      expect(await mentioning(seconds)).toEqual([]);
    }
  }, 30_000);
});

describe("the sandbox's settings", () => {
  const paths = { writable: ["/runs/r/work/app", "/runs/r/home"], hidden: ["/srv/routines", "/srv/routines/data"], tmp: "/runs/r/tmp", state: "/runs/r/sandbox", sockets: "/runs/r/sandbox/srt" };

  it("deny everything but the system and the run's paths, and the server's files besides, under every level", () => {
    for (const network of ["none", "trusted", "full"]) {
      const { filesystem } = sandboxSettings(environment({ network }), paths) as { filesystem: Record<string, string[]> };
      expect(filesystem.denyRead!.slice(0, 1)).toEqual(["/"]);
      expect(filesystem.denyRead).toEqual(expect.arrayContaining(["/etc/shadow", "/etc/gshadow", "/srv/routines", "/srv/routines/data"]));
      expect(filesystem.allowRead).toEqual(expect.arrayContaining(["/usr", "/bin", "/etc"]));
      expect(filesystem.allowRead!.filter((path) => !path.startsWith("/usr") && !path.startsWith("/bin") && !path.startsWith("/sbin") && !path.startsWith("/lib") && !path.startsWith("/etc"))).toEqual([
        expect.stringMatching(/sandbox-runtime\/vendor\/seccomp$/),
        "/runs/r/sandbox/srt",
      ]);
      expect(filesystem.allowWrite).toEqual(["/runs/r/work/app", "/runs/r/home", "/runs/r/tmp"]);
    }
  });

  it("cut the network off to the allowed hosts, except for full", () => {
    expect(sandboxSettings(environment({ network: "none" }), paths).network).toEqual({ allowedDomains: [], deniedDomains: [], strictAllowlist: true });
    expect(sandboxSettings(environment({ network: "full" }), paths)).not.toHaveProperty("network");
  });
});

describe("network: full", () => {
  const full = environment({ network: "full" });

  it("is for the repositories the operator lists", () => {
    expect(grantNetwork(full, { repository: "acme/app", fork: false }, ["acme/app"])).toEqual({ environment: full });
    expect(grantNetwork(full, { repository: "Acme/App", fork: false }, ["acme/*"])).toEqual({ environment: full });
    expect(grantNetwork(full, { repository: "other/app", fork: false }, ["*"])).toEqual({ environment: full });
    expect(() => grantNetwork(full, { repository: "acme/app", fork: false }, ["acme/ap", "acme-labs/*", "app"])).toThrow(
      new NetworkNotGrantedError(
        "network: full is not granted to acme/app: the operator lists the repositories that may use it in ROUTINES_FULL_NETWORK_REPOSITORIES (e.g. acme/app or acme/*); otherwise the routine's environment can use network: trusted or custom with allowed_domains",
      ),
    );
    expect(() => grantNetwork(full, { fork: false }, ["acme/*"])).toThrow(NetworkNotGrantedError);
    // Other levels need no grant.
    const none = environment({ network: "none" });
    expect(grantNetwork(none, { repository: "acme/app", fork: true }, [])).toEqual({ environment: none });
    expect(grantNetwork(undefined, { repository: "acme/app", fork: false }, [])).toEqual({ environment: undefined });
  });

  it("is never a fork's: its run gets trusted, and is told so", () => {
    const forked = grantNetwork(environment({ network: "full", setup: "npm ci" }), { repository: "acme/app", fork: true }, ["*"]);
    expect(forked.environment).toEqual(environment({ network: "trusted", setup: "npm ci" }));
    expect(forked.warning).toBe("network: full is never given to a pull request from a fork: this run's commands have network: trusted");
  });

  it("refuses a session of an ungranted repository before anything runs", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-ungranted-")));
    const events: string[] = [];
    await expect(
      runSession({
        routineName: "r",
        routine: { prompt: "P." },
        environment: environment({ network: "full", setup: "touch setup-ran" }),
        root,
        trigger: { trigger: "test" },
        secrets: {},
        client: new Anthropic({ apiKey: "unused", baseURL: "http://127.0.0.1:9", maxRetries: 0 }),
        defaultModel: "m",
        maxOutputTokens: 10,
        sandbox: { available: true, allowUnsandboxed: false, hidden: [], fullNetworkRepositories: ["acme/other"] },
        origin: { repository: "acme/app", fork: false },
        record: async (kind) => void events.push(kind),
      }),
    ).rejects.toThrow(NetworkNotGrantedError);
    expect(events).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });
});

describe("a host that cannot sandbox", () => {
  let refusingModel: FakeModel;
  beforeAll(async () => void (refusingModel = await startFakeModel([])));
  afterAll(() => refusingModel.close());
  const session = async (allowUnsandboxed: boolean, network: string) => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-nosbx-")));
    await mkdir(join(root, "src"));
    const events: Array<[string, unknown]> = [];
    const result = await runSession({
      routineName: "r",
      routine: { prompt: "P." },
      environment: environment({ network }),
      root,
      trigger: { trigger: "test" },
      secrets: {},
      // These sessions end before their first turn, or at it: the model refuses the key at once (an
      // unreachable one would be retried).
      client: new Anthropic({ apiKey: "not-the-model-key", baseURL: refusingModel.url, maxRetries: 0 }),
      defaultModel: "m",
      maxOutputTokens: 10,
      sandbox: { available: false, reason: "bwrap: setting up uid map: Permission denied", allowUnsandboxed, hidden: [], fullNetworkRepositories: ["*"] },
      record: async (kind, data) => void events.push([kind, data]),
    });
    return { result, events };
  };

  it("refuses runs whose policy needs the sandbox, unless the operator allows running without", async () => {
    await expect(session(false, "trusted")).rejects.toThrow(
      new SandboxUnavailableError(
        "this host cannot sandbox commands (bwrap: setting up uid map: Permission denied), and every run's commands need the sandbox; the operator can set ROUTINES_ALLOW_UNSANDBOXED=true to run them without one",
      ),
    );
    const allowed = await session(true, "trusted");
    expect(allowed.events.find(([kind]) => kind === "session_start")?.[1]).toMatchObject({
      warnings: expect.arrayContaining(["commands run without a sandbox (network: trusted is not enforced, and commands can read the server's files): bwrap: setting up uid map: Permission denied"]),
    });
    // network: full needs the sandbox too.
    await expect(session(false, "full")).rejects.toThrow(SandboxUnavailableError);
    expect((await session(true, "full")).result.stopReason).toBe("model_error");
  });
});

describe("connector results in the transcript", () => {
  it("records the call and the result of a connector tool the model uses", async () => {
    const everything = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url));
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-mcp-session-")));
    await writeFile(join(root, ".mcp.json"), JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [everything, "stdio"] } } }));
    const model = await startFakeModel([
      { content: [{ type: "tool_use", name: "mcp__everything__get-sum", input: { a: 20, b: 22 } }] },
      { content: [{ type: "tool_use", name: "report_outcome", input: { outcome: "succeeded", summary: "42." } }] },
    ]);
    const events: Array<[string, any]> = []; // transcript events as recorded
    try {
      await runSession({
        routineName: "sum",
        routine: { prompt: "Add." },
        root,
        trigger: { trigger: "test" },
        secrets: {},
        client: new Anthropic({ apiKey: "test-model-key", baseURL: model.url, maxRetries: 0 }),
        defaultModel: "m",
        maxOutputTokens: 100,
        record: async (kind, data) => void events.push([kind, data]),
      });
    } finally {
      await model.close();
    }
    expect(events.find(([kind]) => kind === "session_start")?.[1]).toMatchObject({ connectors: ["everything"] });
    // The fake model "m" has no price; nothing else is warned of.
    expect(events.find(([kind]) => kind === "session_start")?.[1]).toMatchObject({ warnings: [expect.stringContaining("has no known price")] });
    expect(events.find(([kind, data]) => kind === "tool_call" && data.name === "mcp__everything__get-sum")?.[1]).toMatchObject({ input: { a: 20, b: 22 } });
    expect(events.find(([kind, data]) => kind === "tool_result" && data.name === "mcp__everything__get-sum")?.[1].output).toContain("42");
  }, 20_000);
});

/** Runs a session whose model calls the shell once per command, and returns the shell's outputs. */
async function sessionShell(network: string, commands: string[], runsRoot?: string) {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-tmp-session-")));
  runsRoot ??= await realpath(await mkdtemp(join(tmpdir(), "routines-runs-root-")));
  const model = await startFakeModel([
    ...commands.map((command) => ({ content: [{ type: "tool_use" as const, name: "shell", input: { command } }] })),
    { content: [{ type: "tool_use", name: "report_outcome", input: { outcome: "succeeded", summary: "ok" } }] },
  ]);
  const outputs: string[] = [];
  try {
    await runSession({
      routineName: "r",
      routine: { prompt: "P." },
      environment: environment({ network }),
      root,
      trigger: { trigger: "test" },
      secrets: {},
      client: new Anthropic({ apiKey: "test-model-key", baseURL: model.url, maxRetries: 0 }),
      defaultModel: "m",
      maxOutputTokens: 100,
      sandbox: { available: true, allowUnsandboxed: false, hidden: [], fullNetworkRepositories: ["*"] },
      runsRoot,
      record: async (kind, data) => {
        const result = data as { name?: string; output?: string };
        if (kind === "tool_result" && result.name === "shell") outputs.push(result.output ?? "");
      },
    });
  } finally {
    await model.close();
  }
  return { outputs, runsRoot };
}

describe("a run's temporary directory", () => {
  const tempFiles = [`f=$(mktemp) && echo ok > "$f" && cat "$f"`, `node -e "require('fs').writeFileSync(require('os').tmpdir()+'/x','1')" && echo written`];
  const where = `echo "$TMPDIR"; echo "$HOME"; stat -c %a "$TMPDIR/.."`;

  it("is writable in the sandbox, private to the run, and removed at its end", async () => {
    const { outputs, runsRoot } = await sessionShell("trusted", [...tempFiles, where]);
    expect(outputs.slice(0, 2)).toEqual(["Exit code: 0.\nok", "Exit code: 0.\nwritten"]);
    const [tmp, home, mode] = outputs[2]!.split("\n").slice(1);
    expect(tmp).toMatch(new RegExp(`^${runsRoot}/routines-run-\\d+-\\w+/tmp$`));
    expect(home).toBe(join(tmp!, "../home"));
    expect(mode).toBe("700");
    expect(await readdir(runsRoot)).toEqual([]);
  }, 60_000);

  it("cannot be read by another run's sandboxed commands, nor can its working tree", async () => {
    // Another run going on at the same time, with a file in its TMPDIR and private code in its tree.
    const runsRoot = await realpath(await mkdtemp(join(tmpdir(), "routines-runs-root-")));
    const other = await createRunDirectory(runsRoot);
    await writeFile(join(other.tmp, "notes"), "OTHER-RUN-TEMPORARY");
    await mkdir(join(other.work, "app"));
    await writeFile(join(other.work, "app", "main.js"), "OTHER-RUN-CODE");
    const { outputs } = await sessionShell(
      "trusted",
      [`cat ${other.tmp}/notes`, `cat ${other.work}/app/main.js`, `ls -a ${runsRoot} ${other.path}`, `grep -r OTHER-RUN ${runsRoot} 2>/dev/null | head`, `echo mine > "$TMPDIR/mine" && cat "$TMPDIR/mine"`],
      runsRoot,
    );
    expect(outputs.join("\n")).not.toContain("OTHER-RUN-");
    // Its own directory still works.
    expect(outputs[4]).toBe("Exit code: 0.\nmine");
    await other.remove();
  }, 60_000);

  it("is the TMPDIR of commands under network: full too", async () => {
    const { outputs, runsRoot } = await sessionShell("full", [...tempFiles, where]);
    expect(outputs.slice(0, 2)).toEqual(["Exit code: 0.\nok", "Exit code: 0.\nwritten"]);
    expect(outputs[2]).toMatch(new RegExp(`^Exit code: 0.\\n${runsRoot}/routines-run-\\d+-\\w+/tmp\\n`));
    expect(await readdir(runsRoot)).toEqual([]);
  }, 60_000);
});

describe("the proxy inside the sandbox", () => {
  // srt starts its in-sandbox proxy listeners (socat on ports 3128 and 1080) in the background and
  // runs the command at once: a command that connects first found nothing listening.
  it("is listening before the command starts, even when socat is slow to start", async () => {
    const { root, dir } = await sandboxedShell({ network: "custom", allowed_domains: ["localhost"] });
    // Inside the working tree: srt starts socat inside the sandbox, which sees only the system and the run's own files.
    const slow = join(root, ".slow-socat");
    await mkdir(slow);
    await writeFile(join(slow, "socat"), `#!/bin/sh\ncase "$1" in TCP-LISTEN*) sleep 1;; esac\nexec /usr/bin/socat "$@"\n`);
    await chmod(join(slow, "socat"), 0o755);
    const launch = await sandboxLauncher(environment({ network: "custom", allowed_domains: ["localhost"] }), { writable: [root], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
    const slowEnv = { ...env, PATH: `${slow}:/usr/bin:/bin` };
    const commands = openShell(launch, root, slowEnv);
    const run = async (command: string) => (await shell.run({ command }, { root, env: slowEnv, signal: new AbortController().signal, commands })).output;
    expect(await run(fetchHost())).toBe("Exit code: 0.\nhello from the host");
    // The wait is not seen in the command's own messages.
    expect(await run("echo first\necho second; )")).toMatch(/^Exit code: 2\.\nfirst\n\S*bash: -c: line 2: syntax error near unexpected token/);
    expect(await run("exit 3")).toBe("Exit code: 3.");
  }, 30_000);

  it("answers the first request of every command", async () => {
    // Six at a time, for the load that makes the race show; each in its own working tree, because
    // srt's mount points in a tree are not shared safely between srt processes.
    const shells = await Promise.all(Array.from({ length: 6 }, () => sandboxedShell({ network: "custom", allowed_domains: ["localhost"] })));
    const outputs: string[] = [];
    for (let round = 0; round < 4; round++) outputs.push(...(await Promise.all(shells.map(async ({ run }) => (await run(fetchHost())).output))));
    expect(outputs.filter((output) => output !== "Exit code: 0.\nhello from the host")).toEqual([]);
  }, 90_000);
});

/** Processes (besides this one) whose arguments pass `test`. */
async function processes(test: (argv: string[]) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").slice(0, -1);
    if (argv.length > 0 && test(argv)) found.push(`${pid} ${argv.join(" ")}`);
  }
  return found;
}
const mentioning = (text: string) => processes((argv) => argv.some((arg) => arg.includes(text)));
const sleeping = (seconds: string) => processes((argv) => argv.join(" ") === `sleep ${seconds}`);

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
  return check();
}

// Plays the server: reads a launch tied to it on stdin and starts it the way runCommand does (its
// own session) or the way the MCP SDK starts a stdio connector (a plain child with pipes), then
// waits to be killed.
const FAKE_SERVER = `
import { spawn } from "node:child_process";
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { launch, detached } = JSON.parse(input);
  const child = spawn(launch.file, launch.args, { detached, stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.pipe(process.stderr);
});
setInterval(() => {}, 60_000);
`;

describe("commands when the server dies", () => {
  const cases = [
    { name: "sandboxed", sandboxed: true, detached: true },
    { name: "unsandboxed", sandboxed: false, detached: true },
    { name: "sandboxed, started like a stdio connector", sandboxed: true, detached: false },
    { name: "unsandboxed, started like a stdio connector", sandboxed: false, detached: false },
  ];
  for (const { name, sandboxed, detached } of cases) {
    it(`are killed with it: ${name}`, async () => {
      const root = await realpath(await mkdtemp(join(tmpdir(), "routines-orphan-")));
      const dir = await createRunDirectory();
      runDirectories.push(dir);
      const state = dir.sandbox;
      const marker = String(300_000 + Math.floor(Math.random() * 600_000));
      // A process that leaves the command's process group (timeout does) must die too.
      const command = `timeout ${marker}1 sleep ${marker}1 & sleep ${marker}`;
      const launcher = sandboxed ? await sandboxLauncher(environment({ network: "none" }), { writable: [root], hidden: [], tmp: dir.tmp, state, sockets: dir.sockets }) : unsandboxed;
      const server = spawn(process.execPath, ["--input-type=module", "-e", FAKE_SERVER], { cwd: root, env: { ...env, HOME: root }, stdio: ["pipe", "inherit", "inherit"] });
      const tied = tieToServer(launcher(command), server.pid);
      server.stdin.end(JSON.stringify({ launch: detached ? tied : inOwnSession(tied), detached }));
      try {
        expect(await waitFor(async () => (await sleeping(marker)).length > 0 && (await sleeping(`${marker}1`)).length > 0, 20_000)).toBe(true);
        server.kill("SIGKILL");
        const left = async () => [...(await mentioning(marker)), ...(await mentioning(state))];
        await waitFor(async () => (await left()).length === 0, 5_000);
        expect(await left()).toEqual([]);
      } finally {
        server.kill("SIGKILL");
        for (const line of [...(await mentioning(marker)), ...(await mentioning(state))]) {
          try {
            process.kill(Number(line.split(" ")[0]), "SIGKILL");
          } catch {
            // gone meanwhile
          }
        }
      }
    }, 40_000);
  }
});

describe("a command's output", () => {
  it("is stdout and stderr in the order the command wrote them", async () => {
    const result = await runCommand({ command: INTERLEAVED, cwd: tmpdir(), env, timeoutMs: 10_000, timeoutReason: "timed out" });
    expect(result).toEqual({ code: 0, output: INTERLEAVED_OUTPUT });
  });

  it("keeps what bash says of a command it cannot parse", async () => {
    const result = await runCommand({ command: "echo 'unterminated", cwd: tmpdir(), env, timeoutMs: 10_000, timeoutReason: "timed out" });
    expect(result.code).toBe(2);
    expect(result.output).toContain("unexpected EOF");
  });
});

describe("a stopped command", () => {
  it("ends with everything it started, also what left its process group", async () => {
    const marker = String(300_000 + Math.floor(Math.random() * 600_000));
    const result = await runCommand({ command: `timeout ${marker}1 sleep ${marker}1 & sleep ${marker}`, cwd: tmpdir(), env, timeoutMs: 1_000, timeoutReason: "timed out" });
    expect(result).toMatchObject({ code: null, stopped: "timed out" });
    await waitFor(async () => (await mentioning(marker)).length === 0, 3_000);
    expect(await mentioning(marker)).toEqual([]);
  });
});
