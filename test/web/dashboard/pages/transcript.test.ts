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
});
