// Attacks from a fork: a pull request from someone without write access steers a routine that has
// `forks: true`. Such a run may read and review; it must not push to the base repository, open
// pull requests, use the operator's connectors, or leave files that a later trusted run picks up.
// Driven through the built server; asserted on what reached the fake GitHub and the fake model.
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText, type RecordedRequest } from "../support/fake-model.js";
import { TINY_MCP_SERVER } from "../support/tiny-mcp-server.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/site";
const SETUP = "mkdir -p deps && cp scripts/ready deps/ready\n";
/** What the fork plants; made at run time so nothing on the machine holds it by chance. */
const PLANTED = `planted-${randomBytes(8).toString("hex")}`;

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(31, "acme");
  await world.github.addRepository(REPO, 31, {
    "README.md": "# site\n",
    "package-lock.json": "{}\n",
    "scripts/setup.sh": SETUP,
    "scripts/ready": "built by the base repository\n",
    // Where the operator's connector program is: commands, connectors included, see only the system and the working tree.
    "tools/ops-mcp.mjs": TINY_MCP_SERVER,
    ".claude/routines.yml": routinesYml(
      {
        review: {
          prompt: "Review this pull request.",
          environment: "build",
          triggers: [{ github: { event: "pull_request", actions: ["opened"], forks: true } }],
        },
      },
      { environments: { build: { network: "none", setup: "bash scripts/setup.sh" } } },
    ),
  });
  // The operator's connector, with what would be its credentials: not for fork runs.
  const dir = await mkdtemp(join(tmpdir(), "routines-connectors-"));
  const connectorsFile = join(dir, "connectors.json");
  await writeFile(connectorsFile, JSON.stringify({ mcpServers: { ops: { command: "node", args: ["tools/ops-mcp.mjs"] } } }));
  server = await world.startServer({ extra: { ROUTINES_CONNECTORS_FILE: connectorsFile } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

const toolNames = (request: RecordedRequest) => ((request.body.tools ?? []) as Array<{ name: string }>).map((tool) => tool.name);
const toolResults = (marker: string) =>
  world.model
    .sessionRequests(marker)
    .flatMap((request) => (request.body.messages as Array<{ content: unknown }>).map((message) => JSON.stringify(message.content)))
    .join("\n");

/** Whether the run's check on the branch's head has completed. */
const finished = async (branch: string) => {
  const sha = await world.github.sha(REPO, `refs/heads/${branch}`);
  return world.github.checkRuns.some((check) => check.head_sha === sha && check.status === "completed");
};

describe("a pull request from a fork", () => {
  it("gets a read-only run: no push, no pull request, no operator connectors, nothing left for trusted runs", async () => {
    const { github, model } = world;

    // The fork changes the setup script to plant a file in what the setup cache keeps (deps/),
    // keeping the lockfile, so a cache keyed by script and lockfile would hand it to the next run.
    await github.commit(REPO, "fork-change", { "scripts/ready": `${PLANTED}\n` });
    const fork = await github.openPullRequest(REPO, { head: "fork-change", title: "Typo fix [fork-case]", user: "mallory", fork: "mallory/site" });
    model.session("[fork-case]", [
      call("push_branch", { branch: "claude/review-evil", commit_message: "evil" }),
      call("open_pull_request", { title: "evil", body: "evil" }),
      outcome("Reviewed."),
    ]);
    const pushesBefore = github.pushes.length;
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, fork.number, "opened", { sender: "mallory" }));
    await eventually(() => finished(fork.head), { what: "the fork run to end" });

    const first = model.sessionRequests("[fork-case]")[0]!;
    expect(firstUserText(first.body)).toContain("Typo fix");
    const tools = toolNames(first);
    expect(tools).toContain("create_review");
    expect.soft(tools).not.toContain("push_branch");
    expect.soft(tools).not.toContain("open_pull_request");
    expect.soft(tools.filter((name) => name.startsWith("mcp__"))).toEqual([]);
    // The token the run held could not have written contents, whatever the tools did.
    const forkTokens = [...github.tokens.values()].filter((token) => token.installationId === 31 && token.repositories?.includes(REPO));
    expect(forkTokens.length).toBeGreaterThan(0);
    expect.soft(forkTokens.map((token) => token.permissions.contents)).toEqual(forkTokens.map(() => "read"));
    expect.soft(github.pushes.length).toBe(pushesBefore);
    expect.soft(github.requests.filter((request) => request.method === "POST" && request.path === `/repos/${REPO}/pulls`)).toEqual([]);

    // A trusted pull request afterwards: its setup runs for itself, and sees nothing of the fork's.
    await github.commit(REPO, "trusted-change", { "README.md": "# site, trusted\n" });
    const trusted = await github.openPullRequest(REPO, { head: "trusted-change", title: "Docs [trusted-case]", user: "alice" });
    model.session("[trusted-case]", [call("shell", { command: "cat deps/ready" }), outcome("Reviewed.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, trusted.number, "opened", { sender: "alice" }));
    await eventually(() => finished(trusted.head), { what: "the trusted run to end" });
    const trustedTools = toolNames(model.sessionRequests("[trusted-case]")[0]!);
    // The operator's connector is there for trusted runs: its absence above is the fork rule, not a broken connector.
    expect(trustedTools.some((name) => name.startsWith("mcp__ops__"))).toBe(true);
    expect(trustedTools).toContain("push_branch");
    expect(toolResults("[trusted-case]")).toContain("built by the base repository");
    expect.soft(toolResults("[trusted-case]")).not.toContain(PLANTED);
  });

  it("comments only on its own pull request: no other issue, no label, no close, no search", async () => {
    const { github, model } = world;
    const victim = github.addIssue(REPO, { title: "A maintainer's issue", body: "Please leave alone." });
    await github.commit(REPO, "fork-issues", { "notes.txt": "hello\n" });
    const fork = await github.openPullRequest(REPO, { head: "fork-issues", title: "Notes [fork-issues-case]", user: "mallory", fork: "mallory/site" });
    model.session("[fork-issues-case]", [
      call("comment", { number: victim.number, body: "spam from a fork" }),
      call("add_labels", { number: victim.number, labels: ["wontfix"] }),
      call("close_issue", { number: victim.number }),
      call("search_issues", {}),
      outcome("Reviewed."),
    ]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, fork.number, "opened", { sender: "mallory" }));
    await eventually(() => finished(fork.head), { what: "the fork run to end" });

    const tools = toolNames(model.sessionRequests("[fork-issues-case]")[0]!);
    expect.soft(tools.filter((name) => ["search_issues", "read_issue", "create_issue", "add_labels", "remove_label", "assign", "close_issue", "reopen_issue"].includes(name))).toEqual([]);
    // The victim issue got nothing; the one comment went to the fork's own pull request.
    expect.soft(github.requests.filter((request) => request.method !== "GET" && request.path.startsWith(`/repos/${REPO}/issues/${victim.number}`)).map((request) => `${request.method} ${request.path}`)).toEqual([]);
    expect.soft(github.issue(REPO, victim.number)).toMatchObject({ state: "open", labels: [] });
    expect.soft(github.comments.filter((comment) => comment.body === "spam from a fork").map((comment) => comment.issue)).toEqual([fork.number]);
    expect.soft(github.find("GET", "/search/issues")).toEqual([]);
  });
});
