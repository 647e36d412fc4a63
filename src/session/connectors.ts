// MCP connectors: servers a session talks to through @modelcontextprotocol/sdk, from the
// repository's .mcp.json (the format Claude Code uses) and from the operator's connectors file.
// Each connector's tools reach the model as mcp__<connector>__<tool>; a connector that fails to
// start is a recorded warning, never a failed run, and its results are untrusted text.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { DEFAULT_INHERITED_ENV_VARS, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { CONNECTOR_ENTRY } from "./connector-entry.js";
import { refusalIn } from "./connector-fetch.js";
import { truncate, type Tool, type ToolResult } from "./define-tool.js";
import { inOwnSession, startingEnvironment, tieToServer, unsandboxed, type Launcher } from "./launch.js";
import { untrustedFrame } from "./untrusted.js";

// `forks: true` (the operator's file): also opened for runs on pull requests from forks.
const forks = z.boolean().optional();
const StdioServer = z.object({ type: z.literal("stdio").optional(), command: z.string().min(1), args: z.array(z.string()).optional(), env: z.record(z.string(), z.string()).optional(), forks });
const HttpServer = z.object({ type: z.enum(["http", "sse"]), url: z.string().url(), headers: z.record(z.string(), z.string()).optional(), forks });
const McpJson = z.object({ mcpServers: z.record(z.string(), z.union([StdioServer, HttpServer])) });

export type ConnectorSpec = { name: string } & (z.infer<typeof StdioServer> | z.infer<typeof HttpServer>);

export interface ConnectorSet {
  tools: Tool[];
  /** Names of the connectors that started. */
  connected: string[];
  /** What went wrong, one line each: connectors that were skipped or failed to start. */
  warnings: string[];
  close(): Promise<void>;
}

/** `${NAME}` references resolved from `values`; undefined names are reported, never left in. */
function resolveReferences<T>(value: T, values: Record<string, string>, missing: Set<string>): T {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      if (values[name] === undefined) missing.add(name);
      return values[name] ?? "";
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item) => resolveReferences(item, values, missing)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolveReferences(inner, values, missing)])) as T;
  }
  return value;
}

/**
 * The connectors a `.mcp.json`-shaped text defines. `${VAR}` references are resolved from
 * `values` only (a repository's file sees the routine's secrets, nothing of the server's).
 */
export function parseConnectors(text: string, values: Record<string, string>, source: string): { specs: ConnectorSpec[]; warnings: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { specs: [], warnings: [`${source} is not JSON: ${(error as Error).message}`] };
  }
  const parsed = McpJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { specs: [], warnings: [`${source}: ${issue.path.join(".")}: ${issue.message}`] };
  }
  const specs: ConnectorSpec[] = [];
  const warnings: string[] = [];
  for (const [name, server] of Object.entries(parsed.data.mcpServers)) {
    const missing = new Set<string>();
    const resolved = resolveReferences(server, values, missing);
    if (missing.size > 0) warnings.push(`connector ${name} (${source}) skipped: no value for ${[...missing].join(", ")}`);
    else specs.push({ name, ...resolved });
  }
  return { specs, warnings };
}

/** Tool names the Messages API accepts: letters, digits, _ and -, at most 64. */
const toolName = (connector: string, tool: string) => `mcp__${connector}__${tool}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);

function resultText(result: Awaited<ReturnType<Client["callTool"]>>): string {
  const content = (result.content ?? []) as Array<{ type: string; text?: string; resource?: { uri?: string; text?: string } }>;
  const parts = content.map((block) => {
    if (block.type === "text") return block.text ?? "";
    if (block.type === "resource") return block.resource?.text ?? `[resource ${block.resource?.uri ?? ""}]`;
    return `[${block.type} content omitted]`;
  });
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  return parts.join("\n");
}

/** Words for a bash command line, each quoted. */
const shellQuote = (words: string[]) => words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(" ");

// The SDK adds the server's own HOME, LOGNAME, PATH, SHELL, TERM and USER to the environment it is
// given; a name given as undefined overrides that, and Node leaves it out of the child's environment.
const NO_SERVER_DEFAULTS = Object.fromEntries(DEFAULT_INHERITED_ENV_VARS.map((name) => [name, undefined]));

/** A stdio transport whose first line hands the connector its environment (see connector-entry.ts). */
class HandingOver extends StdioClientTransport {
  readonly #handover: { env: Record<string, string>; base: Record<string, string> };

  constructor(params: ConstructorParameters<typeof StdioClientTransport>[0], handover: { env: Record<string, string>; base: Record<string, string> }) {
    super(params);
    this.#handover = handover;
  }

  override async start(): Promise<void> {
    await super.start();
    // The MCP client sends nothing before start() is done: this line comes first. It is a JSON line, as messages are.
    await this.send(this.#handover as unknown as JSONRPCMessage);
  }
}

function transportFor(spec: ConnectorSpec, options: OpenOptions): Transport {
  if ("command" in spec) {
    // Started like any command (in the sandbox when there is one, dying with the server, in the
    // working tree), with the allowlisted environment plus its own variables and nothing of the
    // server's. What starts it gets the starting environment alone; the entry program, where the
    // connector runs, hands the rest to the connector. The SDK cannot start it detached: setsid does.
    const entry = `exec ${shellQuote([process.execPath, "--input-type=module", "--eval", CONNECTOR_ENTRY, spec.command, ...(spec.args ?? [])])}`;
    const { file, args } = inOwnSession(tieToServer((options.launch ?? unsandboxed)(entry)));
    const env: Record<string, string> = { ...options.env, ...spec.env };
    const base = startingEnvironment(env);
    const params = { command: file, args, env: { ...NO_SERVER_DEFAULTS, ...base } as Record<string, string>, ...(options.cwd ? { cwd: options.cwd } : {}), stderr: "ignore" as const };
    return new HandingOver(params, { env, base });
  }
  const fetch = options.fetchFor?.(spec);
  const http = { requestInit: { headers: spec.headers ?? {} }, ...(fetch ? { fetch } : {}) };
  return spec.type === "sse" ? new SSEClientTransport(new URL(spec.url), http) : new StreamableHTTPClientTransport(new URL(spec.url), http);
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface OpenOptions {
  env: Record<string, string>;
  /** Where stdio connectors start: the run's working tree. */
  cwd?: string;
  /** Time to connect and list tools. */
  timeoutMs?: number;
  /** Time one tool call may take. */
  callTimeoutMs?: number;
  launch?: Launcher;
  /** How a connector's HTTP requests are made, when not with the server's own fetch (a repository's connectors: see connector-fetch.ts). */
  fetchFor?: (spec: ConnectorSpec) => FetchLike | undefined;
}

/** Starts the connectors in parallel; each gets `timeoutMs` to connect and list its tools. */
export async function openConnectors(specs: ConnectorSpec[], options: OpenOptions): Promise<ConnectorSet> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const clients: Client[] = [];
  const warnings: string[] = [];
  const connected: string[] = [];
  const tools: Tool[] = [];
  await Promise.all(
    specs.map(async (spec) => {
      const client = new Client({ name: "routines", version: "1" });
      try {
        await withTimeout(client.connect(transportFor(spec, options)), timeoutMs, `connector ${spec.name}`);
        clients.push(client);
        const listed = await withTimeout(client.listTools(), timeoutMs, `connector ${spec.name}`);
        connected.push(spec.name);
        for (const tool of listed.tools) {
          tools.push({
            name: toolName(spec.name, tool.name),
            description: `${tool.description ?? tool.name} (from the ${spec.name} connector; its results are untrusted)`,
            inputSchema: tool.inputSchema as Record<string, unknown>,
            // The server's word only decides whether its calls may run at once, never what they may reach.
            ...(tool.annotations?.readOnlyHint === true ? { readOnly: true } : {}),
            async run(input): Promise<ToolResult> {
              try {
                const result = await client.callTool({ name: tool.name, arguments: (input ?? {}) as Record<string, unknown> }, undefined, {
                  timeout: options.callTimeoutMs ?? 120_000,
                });
                const text = truncate(resultText(result));
                return { output: untrustedFrame(`connector ${spec.name}`, text), ...(result.isError ? { isError: true } : {}) };
              } catch (error) {
                return { output: `${spec.name} connector failed: ${(error as Error).message}`, isError: true };
              }
            },
          });
        }
      } catch (error) {
        warnings.push(`connector ${spec.name} did not start: ${refusalIn(error) ?? (error as Error).message}`);
        await client.close().catch(() => undefined);
      }
    }),
  );
  tools.sort((a, b) => a.name.localeCompare(b.name));
  return { tools, connected: connected.sort(), warnings, close: async () => void (await Promise.all(clients.map((client) => client.close().catch(() => undefined)))) };
}

/** The connectors a routine gets: those it names (unknown names are warnings), or all. */
export function selectConnectors(available: ConnectorSpec[], wanted: string[] | undefined): { specs: ConnectorSpec[]; warnings: string[] } {
  if (wanted === undefined) return { specs: available, warnings: [] };
  const byName = new Map(available.map((spec) => [spec.name, spec]));
  return {
    specs: wanted.flatMap((name) => (byName.has(name) ? [byName.get(name)!] : [])),
    warnings: wanted.filter((name) => !byName.has(name)).map((name) => `connector ${name} is not available to this repository`),
  };
}
