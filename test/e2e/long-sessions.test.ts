// Long sessions and parallel reads through the built server. A 400-turn session reading 20 KB
// files keeps its prompt bounded (old tool results are cleared in chunks) while most input is
// still read from the prompt cache, as the fake model measured the requests it received; two
// slow read-only connector calls in one turn run at once, two calls of a tool not marked
// read-only one after the other.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "../support/fake-model.js";
import { SLOW_MCP_SERVER } from "../support/tiny-mcp-server.js";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/long";
const TURNS = 400;
/** A file whose view is about 20 KB. */
const FILE = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(3, "0")} of a file the agent reads again and again.`).join("\n") + "\n";
/** The server's default threshold (ROUTINES_CONTEXT_CLEAR_AT_TOKENS) is 100 000 tokens. */
const BOUND = 115_000;

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  // Cache reads counted per session from the previous request: linear in the prompt, for 400 turns.
  world = await startWorld({ model: { cache: "previous-request" } });
  world.github.addInstallation(31, "acme");
  await world.github.addRepository(REPO, 31, {
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`data/file-${i}.txt`, FILE])),
    "tools/slow.mjs": SLOW_MCP_SERVER,
    ".mcp.json": JSON.stringify({ mcpServers: { slow: { command: "node", args: ["tools/slow.mjs"] } } }),
    ".claude/routines.yml": routinesYml({
      review: { prompt: "Review this pull request.", max_turns: TURNS + 20, triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
    }),
  });
  server = await world.startServer();
}, 120_000);

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

let branches = 0;
/** Opens a pull request whose title carries the marker, and waits for its run's check to complete. */
async function runFor(marker: string, timeoutMs: number) {
  const branch = `change-${++branches}`;
  await world.github.commit(REPO, branch, { "README.md": `long ${branches}\n` });
  const pull = await world.github.openPullRequest(REPO, { head: branch, title: `${marker} change`, user: "alice" });
  const head = await world.github.sha(REPO, `refs/heads/${branch}`);
  await server.deliver("pull_request", await pullRequestEvent(world.github, REPO, pull.number, "opened"));
  return eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { timeoutMs, what: `the check of ${marker}` });
}

const toolResults = (request: RecordedRequest): string[] =>
  request.body.messages.flatMap((message: { content: unknown }) =>
    Array.isArray(message.content)
      ? message.content.filter((block: { type: string }) => block.type === "tool_result").map((block: { content: unknown }) => (typeof block.content === "string" ? block.content : JSON.stringify(block.content)))
      : [],
  );

describe("long sessions and parallel reads, as deployed", () => {
  it(`keeps a ${TURNS}-turn session with 20 KB tool outputs under a bounded prompt, reading at least 80% of its input from the cache`, async () => {
    const marker = "[long-session]";
    world.model.session(marker, (turn) => (turn < TURNS ? call("view", { path: `data/file-${turn % 10}.txt` }) : outcome("Read everything.")));
    const check = await runFor(marker, 600_000);
    expect(check.conclusion).toBe("success");

    const requests = world.model.sessionRequests(marker);
    expect(requests).toHaveLength(TURNS + 1);
    const sizes = requests.map((request) => request.usage!.cacheRead + request.usage!.cacheWrite);
    const read = requests.reduce((sum, request) => sum + request.usage!.cacheRead, 0);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    // Without clearing, the last prompt would hold 400 results of ~5 500 tokens: over 2 million.
    expect(Math.max(...sizes)).toBeLessThan(BOUND);
    expect(read / total).toBeGreaterThanOrEqual(0.8);

    const last = requests.at(-1)!;
    const results = toolResults(last);
    expect(results).toHaveLength(TURNS);
    expect(results[0]).toMatch(/^\[cleared to save context: \d+ characters of view output; run it again if needed\]$/);
    // The latest results are whole; the task is as it was sent first.
    for (const result of results.slice(-3)) expect(result).toContain("line 399 of a file the agent reads again and again.");
    expect(JSON.stringify(last.body.messages[0].content[0].text)).toBe(JSON.stringify(requests[0]!.body.messages[0].content[0].text));
    // Cleared in chunks: the prompt cache was rebuilt on few turns, not on most.
    const rebuilt = requests.slice(1).filter((request) => request.usage!.cacheWrite > 20_000).length;
    expect(rebuilt).toBeLessThan(TURNS / 5);
  }, 660_000);

  it("runs two slow read-only connector calls of one turn at once, and calls not marked read-only one after the other", async () => {
    const marker = "[parallel-reads]";
    const both = (tool: string) => ({
      content: [
        { type: "tool_use" as const, name: `mcp__slow__${tool}`, input: { ms: 1500, tag: "first" } },
        { type: "tool_use" as const, name: `mcp__slow__${tool}`, input: { ms: 1000, tag: "second" } },
      ],
    });
    world.model.session(marker, [both("wait"), both("wait_and_write"), outcome()]);
    const check = await runFor(marker, 120_000);
    expect(check.conclusion).toBe("success");

    const requests = world.model.sessionRequests(marker);
    const timesAfter = (request: RecordedRequest) =>
      toolResults(request)
        .slice(-2)
        .map((text) => JSON.parse(/\{"tag":[^}]*\}/.exec(text)![0]) as { tag: string; started: number; ended: number });
    const [first, second] = timesAfter(requests[1]!);
    // Results in the order of the calls, though the second finished first.
    expect([first!.tag, second!.tag]).toEqual(["first", "second"]);
    expect(second!.started).toBeLessThan(first!.ended);
    const wall = Math.max(first!.ended, second!.ended) - Math.min(first!.started, second!.started);
    expect(wall).toBeLessThan(1500 + 800);

    const [write1, write2] = timesAfter(requests[2]!);
    expect([write1!.tag, write2!.tag]).toEqual(["first", "second"]);
    expect(write2!.started).toBeGreaterThanOrEqual(write1!.ended);
  }, 150_000);
});
