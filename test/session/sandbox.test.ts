import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readFile, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Anthropic from "@anthropic-ai/sdk";
import { Environment } from "../../src/config/schema.js";
import { openConnectors } from "../../src/session/connectors.js";
import { runSession, SandboxUnavailableError } from "../../src/session/run-session.js";
import { allowedDomains, blockedHint, sandboxLauncher, sandboxSupport, TRUSTED_DOMAINS } from "../../src/session/sandbox.js";
import { runSetup } from "../../src/session/setup-script.js";
import { shell } from "../../src/session/tools/shell.js";
import { startFakeModel } from "../support/fake-model.js";

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

const environment = (value: unknown) => Environment.parse(value);
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", ROUTINE_VAR: "visible" };

async function sandboxedShell(policy: unknown, hidden: string[] = []) {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-sbx-")));
  const home = await realpath(await mkdtemp(join(tmpdir(), "routines-sbx-home-")));
  const launch = await sandboxLauncher(environment(policy), { writable: [root, home], hidden });
  const run = (command: string) =>
    shell.run({ command }, { root, env: { ...env, HOME: home }, signal: new AbortController().signal, launch, networkHint: (output, command) => blockedHint(output, environment(policy), command) });
  return { root, run };
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

    // full runs commands without the sandbox: both names answer.
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
    expect(result.output).toContain("Read-only file system");
    expect(result.output).not.toContain("BEGIN PRIVATE KEY");
    expect(result.output).toContain("visible");
  });

  it("runs the setup script and stdio connectors under the policy too", async () => {
    const { root } = await sandboxedShell({ network: "none" });
    const launch = await sandboxLauncher(environment({ network: "none" }), { writable: [root], hidden: [] });
    await expect(runSetup({ script: fetchHost(), root, env, keyParts: {}, timeoutMs: 20_000, launch })).rejects.toThrow("The requested URL returned error: 403");

    const everything = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url));
    const set = await openConnectors([{ name: "everything", command: process.execPath, args: [everything, "stdio"] }], { env, launch, timeoutMs: 20_000 });
    try {
      expect(set.warnings).toEqual([]);
      const getEnv = await set.tools.find((tool) => tool.name === "mcp__everything__get-env")!.run({}, {} as never);
      expect(getEnv.output).toContain('"SANDBOX_RUNTIME": "1"');
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

describe("a host that cannot sandbox", () => {
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
      // No model is reached: these sessions end before their first turn, or at it.
      client: new Anthropic({ apiKey: "k", baseURL: "http://127.0.0.1:9", maxRetries: 0 }),
      defaultModel: "m",
      maxOutputTokens: 10,
      sandbox: { available: false, reason: "bwrap: setting up uid map: Permission denied", allowUnsandboxed, hidden: [] },
      record: async (kind, data) => void events.push([kind, data]),
    });
    return { result, events };
  };

  it("refuses runs whose policy needs the sandbox, unless the operator allows running without", async () => {
    await expect(session(false, "trusted")).rejects.toThrow(
      new SandboxUnavailableError(
        "this host cannot sandbox commands (bwrap: setting up uid map: Permission denied), and the routine's environment asks for network: trusted; the operator can set ROUTINES_ALLOW_UNSANDBOXED=true to run without a sandbox",
      ),
    );
    const allowed = await session(true, "trusted");
    expect(allowed.events.find(([kind]) => kind === "session_start")?.[1]).toMatchObject({
      warnings: ["commands run without a sandbox (network: trusted is not enforced): bwrap: setting up uid map: Permission denied"],
    });
    // network: full needs no sandbox.
    expect((await session(false, "full")).result.stopReason).toBe("model_error");
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
    expect(events.find(([kind]) => kind === "session_start")?.[1]).toMatchObject({ connectors: ["everything"], warnings: [] });
    expect(events.find(([kind, data]) => kind === "tool_call" && data.name === "mcp__everything__get-sum")?.[1]).toMatchObject({ input: { a: 20, b: 22 } });
    expect(events.find(([kind, data]) => kind === "tool_result" && data.name === "mcp__everything__get-sum")?.[1].output).toContain("42");
  }, 20_000);
});
