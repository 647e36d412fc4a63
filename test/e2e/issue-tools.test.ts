// The issue tools through the built server: a routine fired through the HTTP API whose scripted
// session lists the backlog, reads an issue, labels and assigns it, comments on another and
// closes a third, all against the fake GitHub's issues; and the per-run cap on GitHub writes.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Issue } from "./support/fake-github.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/tracker";
const INSTALLATION = 81;

let world: World;
let server: ServerProcess;
let crash: Issue;
let question: Issue;
let duplicate: Issue;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(INSTALLATION, "acme");
  await world.github.addRepository(REPO, INSTALLATION, {
    "README.md": "tracker\n",
    ".claude/routines.yml": routinesYml({
      triage: { prompt: "Triage the open issues. [issue-triage]", triggers: [{ api: {} }] },
      capped: { prompt: "Touch three issues. [issue-capped]", max_github_writes: 2, triggers: [{ api: {} }] },
    }),
  });
  world.github.permissions.set(`${REPO}:alice`, "write");
  crash = world.github.addIssue(REPO, { title: "Crash on save", body: "The editor crashes when saving a large file.", user: "reporter" });
  question = world.github.addIssue(REPO, { title: "How do I configure the theme?", body: "Where is the setting?", comments: [{ body: "Same question here.", user: "someone" }] });
  duplicate = world.github.addIssue(REPO, { title: "Crash when saving", body: "Same as the other one.", labels: ["duplicate"] });
  world.github.addIssue(REPO, { title: "Old closed issue", state: "closed" });
  server = await world.startServer({ extra: { DATA_DIR: "./state" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** Fires `routine` through the HTTP API with a token the routines command made. */
async function fire(routine: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "token", "create", "--repo", REPO, "--routine", routine], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  const url = new URL(/URL\s+(\S+)/.exec(stdout)![1]!);
  const token = /token\s+(\S+)/.exec(stdout)![1]!;
  const fired = await fetch(`${server.url}${url.pathname}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
  expect(fired.status).toBeLessThan(300);
  return ((await fired.json()) as { run_id: string }).run_id;
}

/** The routines command in the server's directory, as an operator runs it. */
const routines = async (...args: string[]) => (await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } })).stdout;

/** The tool results the model received in the session with this marker, once it has made `turns` calls. */
async function toolResults(marker: string, turns: number): Promise<Array<{ content: string; is_error?: boolean }>> {
  const request = await eventually(() => world.model.sessionRequests(marker).find((r) => r.body.messages.filter((m: { role: string }) => m.role === "assistant").length === turns), {
    what: `the model request after ${turns} tool calls of ${marker}`,
  });
  return (request.body.messages as Array<{ role: string; content: unknown }>)
    .flatMap((message) => (message.role === "user" && Array.isArray(message.content) ? message.content : []))
    .filter((block: { type: string }) => block.type === "tool_result")
    .map((block: { content: string | Array<{ text?: string }>; is_error?: boolean }) => ({
      content: typeof block.content === "string" ? block.content : block.content.map((part) => part.text ?? "").join(""),
      ...(block.is_error ? { is_error: true } : {}),
    }));
}

const writesTo = (number: number) => world.github.requests.filter((r) => r.method !== "GET" && r.path.startsWith(`/repos/${REPO}/issues/${number}`));

describe("the issue tools, through the built server", () => {
  it("list the backlog, read an issue, label and assign it, comment on another and close a duplicate", async () => {
    world.model.session("[issue-triage]", [
      call("search_issues", {}),
      call("read_issue", { number: question.number }),
      call("add_labels", { number: crash.number, labels: ["bug", "needs-repro"] }),
      call("assign", { number: crash.number, assignees: ["alice"] }),
      call("comment", { number: question.number, body: "The theme is set under Settings → Appearance." }),
      call("close_issue", { number: duplicate.number, reason: "not_planned", comment: `Duplicate of #${crash.number}.` }),
      outcome("Triaged four issues."),
    ]);
    await fire("triage");
    const results = await toolResults("[issue-triage]", 6);

    // The listing: the open issues only, framed as untrusted.
    expect(results[0]!.content).toContain(`3 found in ${REPO}`);
    expect(results[0]!.content).toContain(`#${crash.number} (issue, open) Crash on save`);
    expect(results[0]!.content).toContain(`#${duplicate.number} (issue, open) Crash when saving · labels: duplicate`);
    expect(results[0]!.content).not.toContain("Old closed issue");
    expect(results[0]!.content).toContain(`<untrusted source="issues of ${REPO}">`);
    // The issue with its comment.
    expect(results[1]!.content).toContain("Where is the setting?");
    expect(results[1]!.content).toContain("--- someone at");
    expect(results[1]!.content).toContain("Same question here.");
    expect(results.slice(2, 6).every((result) => !result.is_error)).toBe(true);

    // What GitHub now holds, and that the run's own token did it.
    expect(world.github.issue(REPO, crash.number)).toMatchObject({ labels: ["bug", "needs-repro"], assignees: ["alice"], state: "open" });
    expect(world.github.comments.filter((c) => c.issue === question.number).map((c) => [c.user, c.body])).toEqual([
      ["someone", "Same question here."],
      [world.github.botLogin, "The theme is set under Settings → Appearance."],
    ]);
    expect(world.github.issue(REPO, duplicate.number)).toMatchObject({ state: "closed", state_reason: "not_planned" });
    expect(world.github.comments.find((c) => c.issue === duplicate.number)?.body).toBe(`Duplicate of #${crash.number}.`);
    for (const request of [...writesTo(crash.number), ...writesTo(question.number), ...writesTo(duplicate.number)]) {
      expect(request.auth.kind).toBe("installation");
      expect(world.github.tokens.get((request.auth as { token: string }).token)?.repositories).toEqual([REPO]);
    }
    expect(world.github.find("GET", "/search/issues")[0]!.query.get("q")).toBe(`repo:${REPO} is:issue state:open`);
  });

  it("refuses the write past max_github_writes, tells the model, and lets the run go on", async () => {
    const target = world.github.addIssue(REPO, { title: "Capped target" });
    world.model.session("[issue-capped]", [
      call("comment", { number: target.number, body: "First write." }),
      call("add_labels", { number: target.number, labels: ["triaged"] }),
      call("assign", { number: target.number, assignees: ["alice"] }),
      outcome("Did two of three."),
    ]);
    const runId = await fire("capped");
    const results = await toolResults("[issue-capped]", 3);
    expect(results[0]!.is_error).toBeUndefined();
    expect(results[1]!.is_error).toBeUndefined();
    expect(results[2]).toEqual({
      content: `assign failed: this run has made its 2 GitHub writes (max_github_writes), so the assignment of ${REPO}#${target.number} was not sent; finish without it and say in your outcome what is left to do`,
      is_error: true,
    });
    // Two writes reached GitHub, the third never left the server.
    expect(writesTo(target.number).map((r) => `${r.method} ${r.path.slice(`/repos/${REPO}`.length)}`)).toEqual([`POST /issues/${target.number}/comments`, `POST /issues/${target.number}/labels`]);
    expect(world.github.issue(REPO, target.number).assignees).toEqual([]);
    // The run went on to its outcome, and its transcript keeps the refusal.
    const shown = await eventually(async () => {
      const text = await routines("runs", "show", runId);
      return /completed/.test(text) && text;
    }, { what: "the capped run to complete" });
    const refusal = shown.split("\n").find((line) => line.includes(" tool_result ") && line.includes('"name":"assign"'));
    expect(refusal).toContain('"isError":true');
    expect(refusal).toContain("this run has made its 2 GitHub writes (max_github_writes)");
  });
});
