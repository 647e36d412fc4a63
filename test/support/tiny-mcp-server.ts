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
