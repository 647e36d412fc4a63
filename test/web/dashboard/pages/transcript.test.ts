import { describe, expect, it } from "vitest";
import { postedLinks, transcriptItem } from "../../../../src/web/dashboard/pages/transcript.js";

const event = (kind: string, data: unknown, seq = 1) => ({ seq, at: new Date(), kind, data });

describe("transcript", () => {
  it("renders what a model or a tool wrote as text, never as markup", () => {
    const item = transcriptItem(event("assistant", { text: '<img src=x onerror="alert(1)"> done' })).text;
    expect(item).toBe('<li class="assistant" id="event-1" data-seq="1">&lt;img src=x onerror=&quot;alert(1)&quot;&gt; done</li>');
    expect(transcriptItem(event("tool_result", { name: "view", output: "</pre><script>x()</script>", isError: false })).text).not.toContain("<script>");
  });

  it("shows tool calls with their inputs, and folds long results", () => {
    expect(transcriptItem(event("tool_call", { name: "shell", input: { command: "npm test" } })).text).toContain('<strong>shell</strong><pre>{\n  &quot;command&quot;: &quot;npm test&quot;\n}</pre>');
    const short = transcriptItem(event("tool_result", { name: "shell", output: "ok", isError: false })).text;
    expect(short).not.toContain("<details>");
    const long = transcriptItem(event("tool_result", { name: "shell", output: "line\n".repeat(30), isError: true })).text;
    expect(long).toContain('<li class="tool error"');
    expect(long).toContain("<details><summary>Result (31 lines, 150 characters)</summary>");
  });

  it("names the pull requests and reviews a session posted", () => {
    expect(
      postedLinks([
        event("tool_result", { name: "open_pull_request", output: "Pushed claude/fix and opened https://github.com/acme/app/pull/7", isError: false }),
        event("tool_result", { name: "create_review", output: "Posted https://github.com/acme/app/pull/3#pullrequestreview-9 with 2 comments.", isError: false }),
        event("tool_result", { name: "shell", output: "https://github.com/acme/app/pull/99", isError: true }),
        // A command or a connector can print anything: only what the GitHub tools report counts.
        event("tool_result", { name: "shell", output: "Posted https://evil.example/acme/app/pull/1", isError: false }),
        event("tool_result", { name: "mcp__docs__fetch", output: "https://evil.example/x/pull/2", isError: false }),
      ]),
    ).toEqual(["https://github.com/acme/app/pull/7", "https://github.com/acme/app/pull/3#pullrequestreview-9"]);
  });

  it("shows each turn's cost with the run's total, the session's cost, and notes to the agent", () => {
    const turn = transcriptItem(event("model_response", { turn: 3, stopReason: "tool_use", usage: { input: 10, cacheRead: 4000, cacheWrite: 200, output: 80 }, costUsd: 0.0034, totalCostUsd: 0.4123 })).text;
    expect(turn).toContain("Model turn 3: tool_use; 10 input, 4000 cached, 80 output tokens; $0.0034 (run $0.412)");
    // A model without a known price: no cost, never $0.
    expect(transcriptItem(event("model_response", { turn: 1, stopReason: "tool_use", usage: { input: 1, cacheRead: 0, cacheWrite: 0, output: 1 } })).text).not.toContain("$");
    const end = transcriptItem(event("session_end", { stopReason: "budget", detail: "stopped at the budget of $5.00: $4.31 spent, and the next model call could cost up to $0.86", outcome: "unknown", usage: { inputTokens: 1, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4 }, costUsd: 4.31 })).text;
    expect(end).toContain("Session ended: budget (stopped at the budget of $5.00: $4.31 spent, and the next model call could cost up to $0.86); outcome unknown; 1 input, 2 cached, 4 output tokens; cost $4.31");
    expect(transcriptItem(event("system_note", { text: "[System note] Wrap up now." })).text).toContain("Note to the agent: [System note] Wrap up now.");
  });
});
