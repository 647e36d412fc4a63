import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Tool } from "../../src/session/define-tool.js";
import { dispatchTools, groupCalls, resultBlocks, type ToolCall } from "../../src/session/tool-dispatch.js";
import { glob } from "../../src/session/tools/glob.js";
import { grep } from "../../src/session/tools/grep.js";
import { view } from "../../src/session/tools/view.js";
import { WORKSPACE_TOOLS } from "../../src/session/run-session.js";

/** A tool that waits `ms` and tells when it started and ended, relative to `log`. */
function slowTool(name: string, readOnly: boolean, log: string[]): Tool {
  return {
    name,
    description: name,
    inputSchema: { type: "object" },
    ...(readOnly ? { readOnly: true } : {}),
    async run(input) {
      const { ms, tag } = input as { ms: number; tag: string };
      log.push(`start ${tag}`);
      await sleep(ms);
      log.push(`end ${tag}`);
      return { output: `${tag} after ${ms} ms` };
    },
  };
}

const call = (name: string, input: unknown, id = `id-${Math.random()}`): ToolCall => ({ id, name, input });
const context = { root: "/", env: {}, signal: new AbortController().signal };

describe("tool dispatch", () => {
  it("marks the tools that only read as read-only, and no other workspace tool", () => {
    expect(WORKSPACE_TOOLS.filter((tool) => tool.readOnly).map((tool) => tool.name).sort()).toEqual(["glob", "grep", "view"]);
    expect([view, grep, glob].every((tool) => tool.readOnly)).toBe(true);
  });

  it("groups consecutive read-only calls and keeps every other call alone, in place", () => {
    const log: string[] = [];
    const tools = new Map([
      ["read", slowTool("read", true, log)],
      ["write", slowTool("write", false, log)],
    ]);
    const calls = ["read", "read", "write", "read", "nope", "read", "read", "read"].map((name, i) => call(name, {}, String(i)));
    expect(groupCalls(calls, tools).map((group) => group.map((one) => one.id))).toEqual([["0", "1"], ["2"], ["3"], ["4"], ["5", "6", "7"]]);
  });

  it("runs reads at once: the wall time of two is that of the slower, not the sum", async () => {
    const log: string[] = [];
    const tools = new Map([["read", slowTool("read", true, log)]]);
    const started = performance.now();
    const done = await dispatchTools([call("read", { ms: 600, tag: "a" }), call("read", { ms: 400, tag: "b" })], { tools, context, record: async () => undefined });
    const wall = performance.now() - started;
    expect(wall).toBeGreaterThanOrEqual(590);
    // b started, and ended, while a ran: one after the other would read start a, end a, start b, end b
    // (the order says it however late a loaded machine fires the timers; a wall-time bound would not).
    expect(log).toEqual(["start a", "start b", "end b", "end a"]);
    // Results in the order of the calls, though b finished first.
    expect(done.map(({ result }) => result.output)).toEqual(["a after 600 ms", "b after 400 ms"]);
  });

  it("runs a writing tool alone: the reads after it start when it has finished, and those before it have finished when it starts", async () => {
    const log: string[] = [];
    const tools = new Map([
      ["read", slowTool("read", true, log)],
      ["write", slowTool("write", false, log)],
    ]);
    const calls = [call("read", { ms: 50, tag: "r1" }), call("read", { ms: 10, tag: "r2" }), call("write", { ms: 30, tag: "w" }), call("read", { ms: 10, tag: "r3" })];
    await dispatchTools(calls, { tools, context, record: async () => undefined });
    expect(log).toEqual(["start r1", "start r2", "end r2", "end r1", "start w", "end w", "start r3", "end r3"]);
  });

  it("records calls and results in the order of the calls, and answers an unknown tool with the names it knows", async () => {
    const log: string[] = [];
    const tools = new Map([["read", slowTool("read", true, log)]]);
    const events: Array<[string, unknown]> = [];
    const calls = [call("read", { ms: 40, tag: "a" }, "1"), call("read", { ms: 5, tag: "b" }, "2"), call("missing", {}, "3")];
    const done = await dispatchTools(calls, { tools, context, record: async (kind, data) => void events.push([kind, data]) });
    expect(events.map(([kind, data]) => `${kind} ${(data as { id: string }).id}`)).toEqual(["tool_call 1", "tool_call 2", "tool_result 1", "tool_result 2", "tool_call 3", "tool_result 3"]);
    expect(resultBlocks(done)).toEqual([
      { type: "tool_result", tool_use_id: "1", content: "a after 40 ms" },
      { type: "tool_result", tool_use_id: "2", content: "b after 5 ms" },
      { type: "tool_result", tool_use_id: "3", content: "There is no tool named missing. Use one of: read.", is_error: true },
    ]);
  });
});
