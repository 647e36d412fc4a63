// Attacks on the scope of the issue tools: a routine's model (steered by an issue's text, say)
// writes to repositories outside its run, or words a search so that it reaches beyond the run's
// repositories. The tools refuse before anything reaches GitHub; the run's tokens are scoped to
// its repositories besides. Driven through the built server; asserted on the requests the fake
// GitHub received, the issues it holds, and everything the model was sent.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Issue } from "../e2e/support/fake-github.js";
import { CLI, eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const APP = "acme/app";
const LIB = "acme/lib";
const SECRET = "acme/secret-repo";
const PUBLIC = "other-org/public";
// Made at run time, so that nothing on the machine holds them unless a run put it there.
const secretMarker = `secret-${randomBytes(12).toString("hex")}`;
const publicMarker = `outside-${randomBytes(12).toString("hex")}`;

let world: World;
let server: ServerProcess;
let secretIssue: Issue;
let libIssue: Issue;
let publicIssue: Issue;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(91, "acme");
  world.github.addInstallation(92, "other-org");
  await world.github.addRepository(APP, 91, {
    "README.md": "# app\n",
    ".claude/routines.yml": routinesYml({
      "write-out": { prompt: "Triage. [issue-write-out]", repositories: ["self", LIB], triggers: [{ api: {} }] },
      "search-out": { prompt: "Search. [issue-search-out]", repositories: ["self", LIB], triggers: [{ api: {} }] },
    }),
  });
  // Shares itself with acme/app, read-only.
  await world.github.addRepository(LIB, 91, { "README.md": "# lib\n", ".claude/routines.yml": JSON.stringify({ version: 1, share_with: [APP] }) });
  // Of the same installation, shared with nobody.
  await world.github.addRepository(SECRET, 91, { "README.md": "# secret\n" });
  // Another account's public repository: anyone's token can search it on GitHub.
  await world.github.addRepository(PUBLIC, 92, { "README.md": "# public\n" }, { private: false });
  world.github.addIssue(APP, { title: "An ordinary bug", body: "Something is off." });
  libIssue = world.github.addIssue(LIB, { title: "Lib issue", body: "Read me, do not touch me." });
  secretIssue = world.github.addIssue(SECRET, { title: `Private matter ${secretMarker}`, body: `The key is ${secretMarker}` });
  publicIssue = world.github.addIssue(PUBLIC, { title: `Outside issue ${publicMarker}`, body: `Outside the run: ${publicMarker}` });
  world.github.permissions.set(`${SECRET}:mallory`, "write");
  server = await world.startServer({ extra: { DATA_DIR: "./state" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

async function fire(routine: string): Promise<void> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "token", "create", "--repo", APP, "--routine", routine], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  const url = new URL(/URL\s+(\S+)/.exec(stdout)![1]!);
  const token = /token\s+(\S+)/.exec(stdout)![1]!;
  const fired = await fetch(`${server.url}${url.pathname}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
  expect(fired.status).toBeLessThan(300);
}

/** Every tool result of the session once the model has made `turns` calls, in order. */
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

describe("the issue tools keep to the run's repositories", () => {
  it("write nothing to a repository outside the run, nor to one shared read-only", async () => {
    const calls = [
      call("comment", { number: secretIssue.number, repository: SECRET, body: "pwned" }),
      call("create_issue", { title: "pwned", body: "pwned", repository: SECRET }),
      call("assign", { number: secretIssue.number, assignees: ["mallory"], repository: SECRET }),
      call("add_labels", { number: libIssue.number, labels: ["pwned"], repository: LIB }),
      call("close_issue", { number: libIssue.number, comment: "pwned", repository: LIB }),
      call("close_issue", { number: publicIssue.number, repository: PUBLIC }),
      call("remove_label", { number: publicIssue.number, label: "x", repository: PUBLIC }),
    ];
    world.model.session("[issue-write-out]", [...calls, outcome("Tried.")]);
    await fire("write-out");
    const results = await toolResults("[issue-write-out]", calls.length);

    // Nothing but reads reached those repositories, and they are as they were.
    const writes = world.github.requests.filter((r) => r.method !== "GET" && [SECRET, LIB, PUBLIC].some((name) => r.path.startsWith(`/repos/${name}/`)));
    expect.soft(writes.map((r) => `${r.status} ${r.method} ${r.path}`)).toEqual([]);
    expect.soft(world.github.issue(SECRET, secretIssue.number)).toMatchObject({ state: "open", labels: [], assignees: [] });
    expect.soft([...world.github.issues.values()].filter((issue) => issue.repository === SECRET)).toHaveLength(1);
    expect.soft(world.github.issue(LIB, libIssue.number)).toMatchObject({ state: "open", labels: [] });
    expect.soft(world.github.issue(PUBLIC, publicIssue.number)).toMatchObject({ state: "open" });
    expect.soft(world.github.comments.filter((c) => c.body === "pwned")).toEqual([]);
    // The model was told which repositories it has.
    expect(results).toHaveLength(calls.length);
    for (const result of results) {
      expect.soft(result.is_error).toBe(true);
      expect.soft(result.content).toMatch(/is not one of this run's repositories \(acme\/app, acme\/lib\)|acme\/lib is read-only in this run/);
    }
  });

  it("search and read nothing outside the run, however the query is worded", async () => {
    const calls = [
      call("search_issues", { query: `repo:${PUBLIC}` }),
      call("search_issues", { query: `repo:${SECRET}`, state: "all" }),
      call("search_issues", { query: "org:other-org" }),
      call("search_issues", { query: "user:other-org", type: "all" }),
      call("search_issues", { query: `Outside OR repo:${PUBLIC}` }),
      call("search_issues", { query: `issue REPO:${PUBLIC}` }),
      call("search_issues", { repository: PUBLIC }),
      call("read_issue", { number: publicIssue.number, repository: PUBLIC }),
      call("read_issue", { number: secretIssue.number, repository: SECRET }),
      // What the run may read: its own issues and those of the read-shared repository.
      call("search_issues", { repository: LIB }),
    ];
    world.model.session("[issue-search-out]", [...calls, outcome("Searched.")]);
    await fire("search-out");
    const results = await toolResults("[issue-search-out]", calls.length);

    // Neither marker reached the model, in any request of the session.
    const seen = JSON.stringify(world.model.sessionRequests("[issue-search-out]").map((r) => r.body));
    expect.soft(seen).not.toContain(publicMarker);
    expect.soft(seen).not.toContain(secretMarker);
    // Every search GitHub received was for one of the run's repositories alone.
    const queries = world.github.find("GET", "/search/issues").map((r) => r.query.get("q") ?? "");
    for (const q of queries) expect.soft(q).toMatch(/^repo:acme\/(app|lib) [^:]*(?:is:issue state:open)?$/);
    expect.soft(world.github.requests.filter((r) => [SECRET, PUBLIC].some((name) => r.path.startsWith(`/repos/${name}/issues`))).map((r) => `${r.status} ${r.method} ${r.path}`)).toEqual([]);
    // The model was told why, and the read-shared repository was searched with its own read-only token.
    expect(results.slice(0, 9).every((result) => result.is_error)).toBe(true);
    expect(results.at(-1)!.content).toContain("Lib issue");
    const libSearch = world.github.find("GET", "/search/issues").find((r) => r.query.get("q")?.startsWith(`repo:${LIB} `));
    const token = world.github.tokens.get((libSearch!.auth as { token: string }).token)!;
    expect(token).toMatchObject({ repositories: [LIB], permissions: { contents: "read", issues: "read", metadata: "read" } });
  });
});
