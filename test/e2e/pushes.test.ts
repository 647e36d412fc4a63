// Pushes through the built server: small packs whatever the repository's size, a second run adding
// to a branch an earlier run made, nothing pushed when a run changed nothing, and release runs
// working on their tag. Assertions are on what reached the fake GitHub and the fake model.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_MCP_SERVER } from "../support/tiny-mcp-server.js";
import { git } from "./support/git.js";
import { commentEvent, releaseEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const BIG = "acme/big";
const TAGGED = "acme/tagged";
const CONNECTED = "acme/connected";
const APP_JS = Array.from({ length: 40 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join("\n") + "\n";
/** What the pushes may weigh: a one-line change is well under this, the repository is hundreds of times more. */
const SMALL = 20_000;

let world: World;
let server: ServerProcess;

const commandRoutine = (marker: string) => ({ prompt: `${marker}: change the code as asked.`, triggers: [{ command: { issues: true } }] });

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(BIG, 7, {
    "src/app.js": APP_JS,
    // Random bytes do not compress: the repository weighs what its files weigh.
    ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`data/blob-${i}.bin`, randomBytes(1_000_000)])),
    ".claude/routines.yml": routinesYml({
      first: commandRoutine("E2E-PUSH-FIRST"),
      second: commandRoutine("E2E-PUSH-SECOND"),
      idle: { prompt: "E2E-PUSH-IDLE: look at this pull request.", triggers: [{ command: {} }] },
    }),
  });
  world.github.permissions.set(`${BIG}:octocat`, "write");
  await world.github.addRepository(TAGGED, 7, {
    VERSION: "1.0\n",
    ".claude/routines.yml": routinesYml({
      notes: { prompt: "E2E-PUSH-RELEASE: write release notes.", triggers: [{ github: { event: "release" } }] },
    }),
  });
  // A repository with a stdio connector: it stays up in the sandbox for the whole session.
  await world.github.addRepository(CONNECTED, 7, {
    "src/app.js": APP_JS,
    "tools/mcp.mjs": TINY_MCP_SERVER,
    ".mcp.json": JSON.stringify({ mcpServers: { tiny: { command: "node", args: ["tools/mcp.mjs"] } } }),
    ".claude/routines.yml": routinesYml({ connected: commandRoutine("E2E-PUSH-CONNECTED") }),
  });
  world.github.permissions.set(`${CONNECTED}:octocat`, "write");
  server = await world.startServer();
}, 120_000);

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** The tool result the model received for the tool call it made on `turn` of the session. */
async function toolResult(marker: string, turn: number): Promise<{ content: string; is_error?: boolean }> {
  const request = await eventually(() => world.model.sessionRequests(marker).find((r) => r.body.messages.filter((m: { role: string }) => m.role === "assistant").length === turn + 1), {
    what: `the model request after turn ${turn} of ${marker}`,
    timeoutMs: 60_000,
  });
  const last = request.body.messages.at(-1);
  const block = last.content.find((b: { type: string }) => b.type === "tool_result");
  const content = typeof block.content === "string" ? block.content : block.content.map((c: { text?: string }) => c.text ?? "").join("");
  return { content, ...(block.is_error ? { is_error: true } : {}) };
}

const runCommand = (name: string, number: number, onPullRequest: boolean) => server.deliver("issue_comment", commentEvent(world.github, BIG, number, `/routine run ${name}`, { onPullRequest }));
const bare = () => world.github.repository(BIG).bare;

describe("pushes, as deployed", () => {
  let branch = "";
  let firstCommit = "";

  it("sends a one-line change of a large repository as a few KB, and opens a pull request from it", async () => {
    const { github, model } = world;
    model.session("E2E-PUSH-FIRST", [
      call("edit_file", { path: "src/app.js", old_text: "value5 = 5;", new_text: "value5 = 50;" }),
      call("open_pull_request", { title: "Raise value5", body: "value5 is now 50." }),
      outcome("Opened a pull request."),
    ]);
    expect((await runCommand("first", 1, false)).status).toBeLessThan(300);

    const opened = await eventually(() => github.find("POST", `/repos/${BIG}/pulls`).find((r) => r.status === 201), { what: "the pull request", timeoutMs: 60_000 });
    branch = opened.body.head;
    expect(branch).toMatch(/^claude\/first-/);
    expect(opened.body).toMatchObject({ base: "main", title: "Raise value5", draft: true });
    const [push, ...others] = github.pushes.filter((p) => p.updates.some((u) => u.ref === `refs/heads/${branch}`));
    expect(others).toEqual([]);
    expect(push!.status).toBe(200);
    expect(push!.bytes).toBeLessThan(SMALL);
    firstCommit = push!.updates[0]!.new;
    expect(push!.updates).toEqual([{ old: "0".repeat(40), new: firstCommit, ref: `refs/heads/${branch}` }]);
    expect(await github.file(BIG, branch, "src/app.js")).toContain("value5 = 50;");
    expect((await git(bare(), "rev-parse", `${firstCommit}^`)).trim()).toBe(await github.sha(BIG, "refs/heads/main"));
  });

  it("adds a second run's commit on top of the branch the first run pushed, without forcing", async () => {
    const { github, model } = world;
    expect(firstCommit).not.toBe("");
    model.session("E2E-PUSH-SECOND", [
      call("edit_file", { path: "src/app.js", old_text: "value30 = 30;", new_text: "value30 = 300;" }),
      call("push_branch", { branch, commit_message: "Raise value30" }),
      outcome("Pushed."),
    ]);
    const before = github.pushes.length;
    expect((await runCommand("second", 2, false)).status).toBeLessThan(300);

    const result = await toolResult("E2E-PUSH-SECOND", 1);
    expect(result.is_error).toBeUndefined();
    expect(result.content).toMatch(new RegExp(`^Pushed to ${branch}: it had commits this run did not make, so your changes were committed on top of them`));
    const pushes = github.pushes.slice(before);
    expect(pushes).toHaveLength(1);
    const [update] = pushes[0]!.updates;
    // A fast-forward from the first run's commit: its parent is that commit.
    expect(update).toMatchObject({ old: firstCommit, ref: `refs/heads/${branch}` });
    expect((await git(bare(), "rev-parse", `${update!.new}^`)).trim()).toBe(firstCommit);
    expect(pushes[0]!.bytes).toBeLessThan(SMALL);
    const app = await github.file(BIG, branch, "src/app.js");
    expect(app).toContain("value5 = 50;");
    expect(app).toContain("value30 = 300;");
  });

  it("pushes nothing from a pull request run that changed nothing", async () => {
    const { github, model } = world;
    await github.commit(BIG, "feature/tweak", { "src/app.js": APP_JS.replace("value9 = 9;", "value9 = 90;") }, { message: "Tweak value9" });
    const pull = await github.openPullRequest(BIG, { head: "feature/tweak", title: "Tweak", user: "alice" });
    model.session("E2E-PUSH-IDLE", [call("push_branch", { branch: "claude/idle-copy", commit_message: "Nothing" }), outcome("Nothing to do.")]);
    const before = github.pushes.length;
    expect((await runCommand("idle", pull.number, true)).status).toBeLessThan(300);

    const result = await toolResult("E2E-PUSH-IDLE", 0);
    expect(result).toEqual({ content: "push_branch failed: there is nothing to push: edit files first", is_error: true });
    expect(github.pushes.slice(before)).toEqual([]);
    expect(await github.file(BIG, "claude/idle-copy", "src/app.js")).toBeUndefined();
  });

  it("pushes only the run's own change while a sandboxed connector is up, none of the sandbox's stand-in files", async () => {
    const { github, model } = world;
    model.session("E2E-PUSH-CONNECTED", [
      call("mcp__tiny__echo", { message: "hello" }),
      call("shell", { command: "true" }),
      call("edit_file", { path: "src/app.js", old_text: "value7 = 7;", new_text: "value7 = 70;" }),
      call("open_pull_request", { title: "Raise value7", body: "value7 is now 70." }),
      outcome("Opened a pull request."),
    ]);
    expect((await server.deliver("issue_comment", commentEvent(github, CONNECTED, 1, "/routine run connected", { onPullRequest: false }))).status).toBeLessThan(300);
    const opened = await eventually(() => github.find("POST", `/repos/${CONNECTED}/pulls`).find((r) => r.status === 201), { what: "the pull request", timeoutMs: 60_000 });
    expect((await toolResult("E2E-PUSH-CONNECTED", 0)).content).toContain("Echo: hello");
    const changed = await git(github.repository(CONNECTED).bare, "diff", "--name-status", "main", opened.body.head);
    expect(changed.trim().split("\n")).toEqual(["M\tsrc/app.js"]);
  });

  it("runs a release on its tag, not on the default branch", async () => {
    const { github, model } = world;
    const tagged = await github.tag(TAGGED, "v1.0", "main");
    await github.commit(TAGGED, "main", { VERSION: "2.0-dev\n" }, { message: "Start 2.0" });
    // The files, HEAD and origin/main as the session's working tree has them (read with `view`, which
    // shows git's own files too and needs no sandbox).
    model.session("E2E-PUSH-RELEASE", [
      call("view", { path: "VERSION" }),
      call("view", { path: ".git/HEAD" }),
      call("view", { path: ".git/refs/remotes/origin/main" }),
      outcome("Read the release."),
    ]);
    expect((await server.deliver("release", await releaseEvent(github, TAGGED, { tag: "v1.0" }))).status).toBeLessThan(300);

    expect(await toolResult("E2E-PUSH-RELEASE", 0)).toEqual({ content: "1\t1.0\n2\t" });
    // A detached HEAD at the tag's commit, the default branch still known.
    expect(await toolResult("E2E-PUSH-RELEASE", 1)).toEqual({ content: `1\t${tagged}\n2\t` });
    expect(await toolResult("E2E-PUSH-RELEASE", 2)).toEqual({ content: `1\t${await github.sha(TAGGED, "refs/heads/main")}\n2\t` });
  });
});
