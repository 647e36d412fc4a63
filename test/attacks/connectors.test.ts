// A repository's `.mcp.json` points HTTP connectors at the server's own network: the loopback
// address, and a name that resolves to it. The server opens HTTP connectors itself, so without a
// guard it would reach services that only it can reach. Driven through the built server; asserted
// on what reached the "internal" listener and what the model was offered.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/inside";

let world: World;
let server: ServerProcess;
let internal: Server;
/** Requests that reached the internal service: none may. */
const reached: string[] = [];

beforeAll(async () => {
  internal = createServer((req, res) => {
    reached.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
  const { port } = internal.address() as AddressInfo;
  world = await startWorld();
  world.github.addInstallation(41, "acme");
  await world.github.addRepository(REPO, 41, {
    "README.md": "# inside\n",
    ".mcp.json": JSON.stringify({
      mcpServers: {
        metadata: { type: "http", url: `http://127.0.0.1:${port}/latest/meta-data/` },
        named: { type: "sse", url: `http://localhost:${port}/sse` },
      },
    }),
    ".claude/routines.yml": routinesYml(
      { review: { prompt: "Review this pull request.", environment: "inside", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } },
      // The policy even names the host: what it resolves to is refused all the same.
      { environments: { inside: { network: "custom", allowed_domains: ["localhost"] } } },
    ),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
  await new Promise<void>((resolve) => internal?.close(() => resolve()));
});

describe("a repository's HTTP connectors", () => {
  it("never reach the server's own network, by address or by a name that resolves there", async () => {
    const { github, model } = world;
    await github.commit(REPO, "change", { "README.md": "# inside, changed\n" });
    const pull = await github.openPullRequest(REPO, { head: "change", title: "Change [connectors-case]", user: "alice" });
    model.session("[connectors-case]", [outcome("Reviewed.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened", { sender: "alice" }));
    await eventually(() => github.find("DELETE", "/installation/token").length > 0, { what: "the run to end" });

    expect(reached).toEqual([]);
    const tools = ((model.sessionRequests("[connectors-case]")[0]!.body.tools ?? []) as Array<{ name: string }>).map((tool) => tool.name);
    expect(tools.filter((name) => name.startsWith("mcp__"))).toEqual([]);
  });
});
