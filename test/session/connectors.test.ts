import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { connectorFetch } from "../../src/session/connector-fetch.js";
import { openConnectors, parseConnectors, selectConnectors, type ConnectorSpec } from "../../src/session/connectors.js";
import { SLOW_MCP_SERVER, TINY_MCP_SERVER } from "../support/tiny-mcp-server.js";

const EVERYTHING = fileURLToPath(new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url));
const stdio = (name: string, env: Record<string, string> = {}): ConnectorSpec => ({ name, command: process.execPath, args: [EVERYTHING, "stdio"], env });
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", ROUTINE_VAR: "from-the-routine" };
const call = (tool: { run: (input: unknown, context: never) => Promise<{ output: string; isError?: boolean }> }, input: unknown) => tool.run(input, {} as never);

describe("parseConnectors", () => {
  it("reads .mcp.json, resolving ${VAR} from the values it is given only", () => {
    const text = JSON.stringify({
      mcpServers: {
        linear: { type: "http", url: "https://mcp.linear.app/mcp", headers: { Authorization: "Bearer ${LINEAR_TOKEN}" } },
        local: { command: "node", args: ["server.js"], env: { KEY: "${LOCAL_KEY}" } },
        other: { command: "node", env: { HOME_DIR: "${HOME}" } },
      },
    });
    expect(parseConnectors(text, { LINEAR_TOKEN: "lin_123", LOCAL_KEY: "k" }, ".mcp.json")).toEqual({
      specs: [
        { name: "linear", type: "http", url: "https://mcp.linear.app/mcp", headers: { Authorization: "Bearer lin_123" } },
        { name: "local", command: "node", args: ["server.js"], env: { KEY: "k" } },
      ],
      warnings: ["connector other (.mcp.json) skipped: no value for HOME"],
    });
  });

  it("keeps the operator's mark of a connector that fork runs may have", () => {
    const text = JSON.stringify({ mcpServers: { docs: { type: "http", url: "https://docs.example/mcp", forks: true }, ops: { command: "ops-mcp" } } });
    expect(parseConnectors(text, {}, "connectors.json").specs).toEqual([
      { name: "docs", type: "http", url: "https://docs.example/mcp", forks: true },
      { name: "ops", command: "ops-mcp" },
    ]);
  });

  it("reports a file it cannot use", () => {
    expect(parseConnectors("{", {}, ".mcp.json").warnings[0]).toMatch(/^\.mcp\.json is not JSON: /);
    expect(parseConnectors('{"mcpServers": {"x": {"type": "http"}}}', {}, ".mcp.json").warnings).toEqual([".mcp.json: mcpServers.x: Invalid input"]);
  });
});

describe("selectConnectors", () => {
  it("gives a routine the connectors it names, or all", () => {
    const available = [stdio("a"), stdio("b")];
    expect(selectConnectors(available, undefined).specs.map((spec) => spec.name)).toEqual(["a", "b"]);
    expect(selectConnectors(available, ["b", "linear"])).toEqual({ specs: [available[1]], warnings: ["connector linear is not available to this repository"] });
  });
});

describe("openConnectors", () => {
  let httpServer: ChildProcess | undefined;
  afterAll(() => httpServer?.kill());

  it("marks a tool read-only only when its server says readOnlyHint: true", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-slow-mcp-")));
    await writeFile(join(dir, "slow.mjs"), SLOW_MCP_SERVER);
    const set = await openConnectors([{ name: "slow", command: process.execPath, args: [join(dir, "slow.mjs")] }], { env });
    try {
      expect(set.tools.map((tool) => [tool.name, tool.readOnly ?? false])).toEqual([
        ["mcp__slow__wait", true],
        ["mcp__slow__wait_and_write", false],
      ]);
    } finally {
      await set.close();
    }
  });

  it("starts real MCP servers over stdio and exposes their tools, with untrusted results and an allowlisted environment", async () => {
    process.env.SERVER_SECRET_FOR_TEST = "never-seen";
    const set = await openConnectors([stdio("everything", { CONNECTOR_VAR: "mine" })], { env });
    delete process.env.SERVER_SECRET_FOR_TEST;
    try {
      expect(set.connected).toEqual(["everything"]);
      expect(set.warnings).toEqual([]);
      const names = set.tools.map((tool) => tool.name);
      expect(names).toContain("mcp__everything__echo");
      expect(names).toContain("mcp__everything__get-sum");
      const echo = set.tools.find((tool) => tool.name === "mcp__everything__echo")!;
      expect(echo.inputSchema).toMatchObject({ type: "object", properties: { message: { type: "string" } } });
      expect(await call(echo, { message: "hi" })).toEqual({ output: '<untrusted source="connector everything">\nEcho: hi\n</untrusted>' });
      const getEnv = await call(set.tools.find((tool) => tool.name === "mcp__everything__get-env")!, {});
      expect(getEnv.output).toContain('"ROUTINE_VAR": "from-the-routine"');
      expect(getEnv.output).toContain('"CONNECTOR_VAR": "mine"');
      expect(getEnv.output).not.toContain("never-seen");
      const bad = await call(echo, { message: 5 });
      expect(bad.isError).toBe(true);
    } finally {
      await set.close();
    }
  });

  it("starts stdio connectors in the directory it is given, with nothing of the server's user", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-connector-cwd-")));
    const saved = { USER: process.env.USER, LOGNAME: process.env.LOGNAME, SHELL: process.env.SHELL };
    Object.assign(process.env, { USER: "server-user", LOGNAME: "server-login", SHELL: "/bin/server-shell" });
    const where = join(dir, "started-in");
    const spec: ConnectorSpec = { name: "everything", command: "bash", args: ["-c", `pwd > "${where}"; exec "${process.execPath}" "${EVERYTHING}" stdio`] };
    const set = await openConnectors([spec], { env, cwd: dir }).finally(() => {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    });
    try {
      expect(set.warnings).toEqual([]);
      expect((await readFile(where, "utf8")).trim()).toBe(dir);
      const getEnv = (await call(set.tools.find((tool) => tool.name === "mcp__everything__get-env")!, {})).output;
      expect(getEnv).toContain('"ROUTINE_VAR": "from-the-routine"');
      expect(getEnv).toContain('"HOME": "/tmp"');
      for (const value of ["server-user", "server-login", "/bin/server-shell"]) expect(getEnv).not.toContain(value);
    } finally {
      await set.close();
    }
  });

  it("hands a stdio connector its environment where it runs: NODE_OPTIONS and HOME's .bashrc act on the connector alone", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-connector-env-")));
    const log = join(dir, "loaded");
    await writeFile(join(dir, "connector.mjs"), TINY_MCP_SERVER);
    // Each appends the program it loaded into: the connector's node may; the guard's bash and the entry program's node may not.
    await writeFile(join(dir, "preload.cjs"), `require("node:fs").appendFileSync(${JSON.stringify(log)}, "node " + (process.argv[1] ?? "--eval") + "\\n");\n`);
    await writeFile(join(dir, ".bashrc"), `echo "bashrc $0" >> ${JSON.stringify(log)}\n`);
    const spec: ConnectorSpec = { name: "tiny", command: process.execPath, args: ["connector.mjs"], env: { NODE_OPTIONS: `--require ${join(dir, "preload.cjs")}`, CONNECTOR_VAR: "mine" } };
    const set = await openConnectors([spec], { env: { ...env, HOME: dir }, cwd: dir });
    try {
      expect(set.warnings).toEqual([]);
      const where = (await call(set.tools.find((tool) => tool.name === "mcp__tiny__where")!, {})).output;
      expect(where).toContain('"CONNECTOR_VAR":"mine"');
      expect(where).toContain('"ROUTINE_VAR":"from-the-routine"');
      expect(where).toContain(`"HOME":"${dir}"`);
      expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([`node ${join(dir, "connector.mjs")}`]);
    } finally {
      await set.close();
    }
  });

  it("stops a tool call that hangs, as a tool error", async () => {
    const set = await openConnectors([stdio("everything")], { env, callTimeoutMs: 1_000 });
    try {
      const slow = set.tools.find((tool) => tool.name === "mcp__everything__trigger-long-running-operation")!;
      const started = Date.now();
      const result = await call(slow, { duration: 30, steps: 3 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.isError).toBe(true);
      expect(result.output).toMatch(/^everything connector failed: .*timed out/i);
    } finally {
      await set.close();
    }
  }, 15_000);

  it("turns a connector that fails or hangs into a warning, and keeps the others", async () => {
    const set = await openConnectors(
      [stdio("good"), { name: "missing", command: "/nonexistent/mcp-server" }, { name: "silent", command: "sleep", args: ["30"] }],
      { env, timeoutMs: 3_000 },
    );
    try {
      expect(set.connected).toEqual(["good"]);
      expect(set.warnings.sort()).toEqual([
        expect.stringMatching(/^connector missing did not start: /),
        "connector silent did not start: connector silent did not answer within 3s",
      ]);
    } finally {
      await set.close();
    }
  }, 15_000);

  it("connects to a real MCP server over streamable HTTP", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    httpServer = spawn(process.execPath, [EVERYTHING, "streamableHttp"], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
    await new Promise<void>((resolve) => httpServer!.stderr!.on("data", (chunk: Buffer) => chunk.toString().includes("listening") && resolve()));
    const remote: ConnectorSpec = { name: "remote", type: "http", url: `http://127.0.0.1:${port}/mcp` };
    const set = await openConnectors([remote], { env });
    try {
      expect(set.warnings).toEqual([]);
      const sum = set.tools.find((tool) => tool.name === "mcp__remote__get-sum")!;
      expect((await call(sum, { a: 2, b: 3 })).output).toContain("5");
    } finally {
      await set.close();
    }
    // The same server, as a repository's connector: it is on the server's own network, so it is refused, saying why.
    const guarded = await openConnectors([remote], { env, fetchFor: () => connectorFetch(undefined) });
    expect(guarded.connected).toEqual([]);
    expect(guarded.warnings).toEqual(["connector remote did not start: 127.0.0.1 is not a public address"]);
    await guarded.close();
  }, 15_000);
});
