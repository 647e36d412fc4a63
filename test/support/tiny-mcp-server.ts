// An MCP server over stdio in a few lines of node and nothing else, so that it runs wherever a
// command runs, the sandbox included (a repository's connector, written into its working tree).
// Its tools: `echo` answers "Echo: <message>"; `where` tells its working directory, its
// environment, and whether it could read the file named as its first argument.
export const TINY_MCP_SERVER = `
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
const answer = (id, result) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, result }) + "\\n");
const text = (value) => ({ content: [{ type: "text", text: value }] });
createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, method, params } = JSON.parse(line);
  if (method === "initialize") answer(id, { protocolVersion: params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "tiny", version: "1" } });
  if (method === "tools/list") {
    answer(id, {
      tools: [
        { name: "echo", description: "echoes a message", inputSchema: { type: "object", properties: { message: { type: "string" } } } },
        { name: "where", description: "where it runs", inputSchema: { type: "object" } },
      ],
    });
  }
  if (method === "tools/call" && params.name === "echo") answer(id, text("Echo: " + params.arguments.message));
  if (method === "tools/call" && params.name === "where") {
    let read;
    try {
      read = readFileSync(process.argv[2], "utf8");
    } catch (error) {
      read = error.code;
    }
    answer(id, text(JSON.stringify({ cwd: process.cwd(), env: process.env, read })));
  }
});
`;

// A connector whose tools take their time: `wait` (marked read-only) and `wait_and_write` (not
// marked) each wait `ms` milliseconds and answer with when they started and ended (epoch ms), so a
// test can tell whether two calls ran at once.
export const SLOW_MCP_SERVER = `
import { createInterface } from "node:readline";
const answer = (id, result) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, result }) + "\\n");
const schema = { type: "object", properties: { ms: { type: "number" }, tag: { type: "string" } } };
createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, method, params } = JSON.parse(line);
  if (method === "initialize") answer(id, { protocolVersion: params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "slow", version: "1" } });
  if (method === "tools/list") {
    answer(id, {
      tools: [
        { name: "wait", description: "waits, reading nothing", inputSchema: schema, annotations: { readOnlyHint: true } },
        { name: "wait_and_write", description: "waits, then writes", inputSchema: schema },
      ],
    });
  }
  if (method === "tools/call") {
    const started = Date.now();
    setTimeout(() => answer(id, { content: [{ type: "text", text: JSON.stringify({ tag: params.arguments.tag, started, ended: Date.now() }) }] }), params.arguments.ms);
  }
});
`;
