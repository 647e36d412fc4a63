// The templates as a new team starts them: each repository's .claude/ is exactly what
// `routines init --use <use>` wrote into a checkout of it, served by the fake GitHub to the built
// server, and each run ends where the template says (a review with inline comments, labels and a
// comment on issues, a draft pull request, a deploy note or an issue, a pull request). The fake
// model plays the agent; its sessions are keyed by a sentence of each template's prompt, so a run
// proves that the prompt file reached the model. The cases share one server.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { issuesEvent, pullRequestEvent, workflowRunEvent } from "./support/payloads.js";
import { CLI, ROOT, eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, startWorld, type World } from "./support/world.js";

const exec = promisify(execFile);
const OWNER = "acme";
const APP_JS = Array.from({ length: 20 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join("\n") + "\n";
const README = "# app\n\nRun `node app.js --port 8080` to start it.\n";

/** A sentence of each template's prompt that names its sessions in the fake model. */
const MARKERS = {
  review: "Review this pull request as a careful senior engineer of this team would",
  "backlog-triage": "Triage this repository's issues, so that every open issue carries the labels",
  "alert-triage": "An alert from monitoring started this run",
  "deploy-verification": "A deployment just finished: the context names the workflow run that deployed",
  "docs-drift": "Find where this repository's documentation no longer matches its code",
  port: "Port code as the request in the context asks",
} as const;
type Use = keyof typeof MARKERS;
const repo = (use: Use) => `${OWNER}/tpl-${use}`;

let world: World;
let server: ServerProcess;

/** Runs `routines init --use <use>` in a fresh checkout holding `files`; returns every file of the checkout, .claude/ as written. */
async function initialised(use: Use, files: Record<string, string>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), "routines-e2e-init-"));
  await exec("git", ["init", "-q", dir]);
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  const { stdout } = await exec(process.execPath, [CLI, "init", "--use", use], { cwd: dir, env: { PATH: process.env.PATH } });
  expect(stdout).toContain(`.claude/routines.yml: valid, 1 routine (${use})`);
  const written: Record<string, string> = { ...files };
  for (const path of await readdir(join(dir, ".claude"), { recursive: true })) {
    if (path.endsWith(".md") || path.endsWith(".yml")) written[`.claude/${path}`] = await readFile(join(dir, ".claude", path), "utf8");
  }
  return written;
}

beforeAll(async () => {
  for (const [use, marker] of Object.entries(MARKERS)) {
    expect(await readFile(join(ROOT, "templates", use, "prompts", `${use}.md`), "utf8")).toContain(marker);
  }
  world = await startWorld();
  world.github.addInstallation(61, OWNER);
  for (const use of Object.keys(MARKERS) as Use[]) {
    const files = await initialised(use, { "app.js": APP_JS, "README.md": README });
    expect(Object.keys(files).sort()).toEqual([".claude/prompts/" + use + ".md", ".claude/routines.yml", "README.md", "app.js"]);
    await world.github.addRepository(repo(use), 61, files);
    world.github.permissions.set(`${repo(use)}:writer`, "write");
  }
  world.github.signedInUser = "writer";
  server = await world.startServer({ extra: { DATA_DIR: "./state", GITHUB_CLIENT_ID: "Iv1.e2e", GITHUB_CLIENT_SECRET: "e2e-client-secret" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** The `routines` command in the server's directory, reading its `.env` as the server does. */
async function routines(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  return stdout;
}

/** Fires a routine's api trigger with `text`, with a token made by `routines token create`, as monitoring would. */
async function fire(use: Use, text: string): Promise<string> {
  const created = await routines("token", "create", "--repo", repo(use), "--routine", use);
  const url = new URL(/URL\s+(\S+)/.exec(created)![1]!);
  const token = /token\s+(\S+)/.exec(created)![1]!;
  const answer = await fetch(`${server.url}${url.pathname}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text }) });
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { run_id: string }).run_id;
}

/** The pull request the run opened in the repository, once it is there. */
const openedPull = (use: Use) =>
  eventually(() => [...world.github.pullRequests.values()].find((pull) => pull.repository === repo(use) && pull.head.startsWith(`claude/${use}-`)), { what: `the pull request of ${use}` });

/** The text of the session's first message: the prompt the template's routine sent. */
const firstPrompt = (use: Use) => JSON.stringify(world.model.sessionRequests(MARKERS[use])[0]!.body.messages[0]);

/** The first requests of the template's sessions since it was last scripted: one per session started. */
const sessionsOf = (use: Use) => world.model.sessionRequests(MARKERS[use]).filter((request) => request.body.messages.length === 1);

/** The tool results the model received in the template's session, once it has made `calls` tool calls. */
async function toolResults(use: Use, calls: number): Promise<Array<{ content: string; is_error?: boolean }>> {
  const request = await eventually(() => world.model.sessionRequests(MARKERS[use]).find((r) => r.body.messages.filter((m: { role: string }) => m.role === "assistant").length === calls), {
    what: `the model request after ${calls} tool calls of ${use}`,
  });
  return (request.body.messages as Array<{ role: string; content: unknown }>)
    .flatMap((message) => (message.role === "user" && Array.isArray(message.content) ? message.content : []))
    .filter((block: { type: string }) => block.type === "tool_result")
    .map((block: { content: string | Array<{ text?: string }>; is_error?: boolean }) => ({
      content: typeof block.content === "string" ? block.content : block.content.map((part) => part.text ?? "").join(""),
      ...(block.is_error ? { is_error: true } : {}),
    }));
}

/** Waits for the run to complete with its outcome; a later case may then script the template's session anew. */
const succeeded = (runId: string) => eventually(async () => /completed[^]*succeeded/.test(await routines("runs", "show", runId)), { what: `run ${runId} to complete with its outcome`, intervalMs: 500 });

/** The id of the only run of a template's routine that `routines runs` lists, once it has completed with its outcome. */
async function onlyRunSucceeded(use: Use): Promise<string> {
  const row = await eventually(async () => {
    const rows = (await routines("runs", "--repo", repo(use), "--routine", use)).split("\n").slice(1).filter((line) => line.trim() !== "");
    return rows.length === 1 && /\bcompleted\s+succeeded\b/.test(rows[0]!) && rows[0];
  }, { what: `the one run of ${use} to complete with its outcome`, intervalMs: 500 });
  return row.split(/\s+/)[0]!;
}

describe("the templates, written by routines init, run end to end", () => {
  it("review: a pull request gets one review with an inline comment on its diff", async () => {
    const { github, model } = world;
    await github.commit(repo("review"), "feature/off-by-one", { "app.js": APP_JS.replace("value3 = 3;", "value3 = 4;") });
    const pull = await github.openPullRequest(repo("review"), { head: "feature/off-by-one", title: "Tune value3", user: "alice" });
    model.session(MARKERS.review, [
      call("create_review", { body: "One problem.", event: "REQUEST_CHANGES", comments: [{ path: "app.js", line: 3, body: "value3 should stay 3: callers rely on it.", suggestion: "export const value3 = 3;" }] }),
      outcome("Reviewed: one problem raised."),
    ]);

    const answer = await server.deliver("pull_request", await pullRequestEvent(github, repo("review"), pull.number, "opened"));
    expect(answer.status).toBeLessThan(300);

    const review = await eventually(() => github.reviews.find((r) => r.repository === repo("review") && r.pull === pull.number), { what: "the review" });
    expect(review.event).toBe("REQUEST_CHANGES");
    expect(review.comments).toMatchObject([{ path: "app.js", line: 3, side: "RIGHT", body: expect.stringContaining("```suggestion\nexport const value3 = 3;\n```") }]);
    const head = await github.sha(repo("review"), "refs/heads/feature/off-by-one");
    expect(review.commit_id).toBe(head);
    await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.name === "routines/review" && c.status === "completed" && c.conclusion === "success"), { what: "the review's check run to succeed" });
    // The prompt file of the template reached the model, with the pull request.
    expect(firstPrompt("review")).toContain("Tune value3");
    expect(firstPrompt("review")).toContain("Only review: do not edit files");
  });

  it("backlog-triage: a new issue, delivered as GitHub sends it, gets its label and one comment asking for what is missing", async () => {
    const { github, model } = world;
    const target = repo("backlog-triage");
    const issue = github.addIssue(target, { title: "Crash on start", body: "node app.js throws before it listens.", user: "reporter" });
    const reply = "Thanks for the report! This is an automated triage. Which Node version do you run, and what is the whole error with its stack trace?";
    model.session(MARKERS["backlog-triage"], [
      call("read_issue", { number: issue.number }),
      call("add_labels", { number: issue.number, labels: ["bug"] }),
      call("comment", { body: reply }),
      outcome(`#${issue.number}: labelled bug; asked for the version and the stack trace.`),
    ]);

    const answer = await server.deliver("issues", issuesEvent(github, target, { number: issue.number, title: issue.title, body: issue.body, author: "reporter" }, "opened"));
    expect(answer.status).toBeLessThan(300);

    // The comment without a number lands on the issue the run is about, beside the label.
    const comment = await eventually(() => github.comments.find((c) => c.repository === target && c.body.includes("automated triage")), { what: "the triage comment" });
    expect(comment).toMatchObject({ issue: issue.number, user: github.botLogin, body: expect.stringContaining(reply) });
    expect(github.issue(target, issue.number)).toMatchObject({ labels: ["bug"], state: "open", assignees: [] });
    const [read, labelled, commented] = await toolResults("backlog-triage", 3);
    expect(read!.content).toContain("node app.js throws before it listens.");
    expect([labelled!.is_error, commented!.is_error]).toEqual([undefined, undefined]);
    // The issue reached the model beside the template's prompt, as the run's subject.
    expect(firstPrompt("backlog-triage")).toContain(`Issue #${issue.number}, by reporter`);
    expect(firstPrompt("backlog-triage")).toContain("Do not close, assign or edit issues");
    await onlyRunSucceeded("backlog-triage");
  });

  it("backlog-triage: the weekly sweep, started with Run now, finds the unlabelled issues and labels two", async () => {
    const { github, model } = world;
    const target = repo("backlog-triage");
    const docs = github.addIssue(target, { title: "README names the wrong flag", body: "It says --port; the app takes --listen." });
    const feature = github.addIssue(target, { title: "Read settings from a file", body: "Only flags today." });
    github.addIssue(target, { title: "Sorted already", body: "Has its label.", labels: ["question"] });
    model.session(MARKERS["backlog-triage"], [
      call("search_issues", { query: "no:label", limit: 100 }),
      call("add_labels", { number: docs.number, labels: ["documentation"] }),
      call("add_labels", { number: feature.number, labels: ["enhancement"] }),
      outcome(`#${docs.number}: documentation; #${feature.number}: enhancement. No other issue waits for triage.`),
    ]);
    // The schedule cannot be waited for: Run now starts the routine as the schedule would, about no issue.
    const browser = await signIn();
    const started = await browser.post(`/dashboard/repos/${target}/routines/backlog-triage/run`, { _csrf: await browser.csrf(), text: "" });
    expect(started.status).toBe(303);
    const runId = /\/dashboard\/runs\/([^/?#]+)/.exec(started.headers.get("location") ?? "")![1]!;

    const [listing, ...labels] = await toolResults("backlog-triage", 3);
    expect(listing!.content).toContain(`#${docs.number} (issue, open) README names the wrong flag`);
    expect(listing!.content).toContain(`#${feature.number} (issue, open) Read settings from a file`);
    expect(listing!.content).not.toContain("Sorted already");
    expect(labels.map((result) => result.is_error)).toEqual([undefined, undefined]);
    expect(github.issue(target, docs.number).labels).toEqual(["documentation"]);
    expect(github.issue(target, feature.number).labels).toEqual(["enhancement"]);
    expect(firstPrompt("backlog-triage")).not.toContain("Issue #");
    await succeeded(runId);
  });

  it("alert-triage: an alert POSTed to its endpoint ends in a draft pull request with the fix", async () => {
    const { github, model } = world;
    model.session(MARKERS["alert-triage"], [
      call("edit_file", { path: "app.js", old_text: "value7 = 7;", new_text: "value7 = 7 || 0;" }),
      call("open_pull_request", { title: "Fix the crash in value7", body: "The alert's TypeError comes from app.js:7; this guards it." }),
      outcome("Cause: app.js:7. Opened a draft pull request with the fix."),
    ]);
    const alert = "TypeError: Cannot read properties of undefined (reading 'value7') at app.js:7 — 312 events since 09:12";
    const runId = await fire("alert-triage", alert);

    const pull = await openedPull("alert-triage");
    expect(pull).toMatchObject({ title: "Fix the crash in value7", draft: true, base: "main" });
    expect(await github.file(repo("alert-triage"), `refs/heads/${pull.head}`, "app.js")).toContain("value7 = 7 || 0;");
    // The alert reached the model as untrusted text, beside the template's prompt.
    expect(firstPrompt("alert-triage")).toContain("312 events since 09:12");
    expect(firstPrompt("alert-triage")).toMatch(/untrusted/i);
    await eventually(async () => /completed[^]*succeeded/.test(await routines("runs", "show", runId)), { what: "the run to complete with its outcome" });
  });

  it("deploy-verification: after the Deploy workflow succeeds, it reads the pull request the workflow run lists and leaves a deploy note on it", async () => {
    const { github, model } = world;
    const target = repo("deploy-verification");
    await github.commit(target, "feature/value9", { "app.js": APP_JS.replace("value9 = 9;", "value9 = 90;") }, { message: "Raise value9" });
    const pull = await github.openPullRequest(target, { head: "feature/value9", title: "Raise value9 to 90", body: "After deploying, clear the value cache.", user: "alice" });
    const deployed = await github.commit(target, "main", { "app.js": APP_JS.replace("value9 = 9;", "value9 = 90;") }, { message: `Raise value9 (#${pull.number})` });
    const note = `Deploy note: ${deployed} went out with the Deploy workflow. Remaining:\n- [ ] clear the value cache`;
    model.session(MARKERS["deploy-verification"], [
      call("read_issue", { number: pull.number }),
      call("comment", { number: pull.number, body: note }),
      outcome(`Deployed #${pull.number}; one post-deploy step remains, noted on it.`),
    ]);

    const event = workflowRunEvent(github, target, { workflow: "Deploy", conclusion: "success", headSha: deployed, headBranch: "main", pullRequests: [pull.number] });
    expect((await server.deliver("workflow_run", event)).status).toBeLessThan(300);

    const comment = await eventually(() => github.comments.find((c) => c.repository === target && c.body.startsWith("Deploy note")), { what: "the deploy note" });
    expect(comment).toMatchObject({ issue: pull.number, user: github.botLogin, body: expect.stringContaining("- [ ] clear the value cache") });
    // read_issue takes the pull request's number: the model saw it, as a pull request, with its description.
    const [read] = await toolResults("deploy-verification", 2);
    expect(read!.is_error).toBeUndefined();
    expect(read!.content).toContain(`#${pull.number} (pull request, open) Raise value9 to 90`);
    expect(read!.content).toContain("After deploying, clear the value cache.");
    expect(firstPrompt("deploy-verification")).toContain(`Pull requests GitHub lists for it: #${pull.number}.`);
    await eventually(() => github.checkRuns.find((c) => c.head_sha === deployed && c.name === "routines/deploy-verification" && c.status === "completed" && c.conclusion === "success"), {
      what: "the deploy check to succeed",
    });
  });

  it("deploy-verification: a failed Deploy starts nothing; a successful one whose check finds a problem opens an issue", async () => {
    const { github, model } = world;
    const target = repo("deploy-verification");
    const deployed = await github.commit(target, "main", { "config.js": "export const shopUrl = process.env.SHOP_URL;\n" }, { message: "Read the shop's URL from SHOP_URL" });
    const title = `SHOP_URL is read but nothing sets it (${deployed.slice(0, 7)})`;
    model.session(MARKERS["deploy-verification"], [
      call("grep", { pattern: "SHOP_URL" }),
      call("create_issue", { title, body: "config.js:1 reads SHOP_URL, which has no default and is documented nowhere. Next step: set it in production.", labels: ["deploy"] }),
      outcome("Deployed with one problem: opened an issue for SHOP_URL."),
    ]);

    const failed = workflowRunEvent(github, target, { workflow: "Deploy", conclusion: "failure", headSha: deployed, headBranch: "main" });
    expect((await server.deliver("workflow_run", failed)).status).toBeLessThan(300);
    const event = workflowRunEvent(github, target, { workflow: "Deploy", conclusion: "success", headSha: deployed, headBranch: "main" });
    expect((await server.deliver("workflow_run", event)).status).toBeLessThan(300);

    const opened = await eventually(() => [...github.issues.values()].find((issue) => issue.repository === target && issue.title === title), { what: "the issue the run opened" });
    expect(opened).toMatchObject({ user: github.botLogin, state: "open", labels: ["deploy"], body: expect.stringContaining("config.js:1 reads SHOP_URL") });
    expect((await toolResults("deploy-verification", 1))[0]!.content).toContain("config.js");
    expect(firstPrompt("deploy-verification")).toContain("GitHub lists no pull request for it.");
    await eventually(() => github.checkRuns.find((c) => c.head_sha === deployed && c.status === "completed" && c.conclusion === "success"), { what: "the deploy check to succeed" });
    // The failed deploy, delivered first, started no session and no check of its own.
    expect(sessionsOf("deploy-verification")).toHaveLength(1);
    expect(github.checkRuns.filter((c) => c.head_sha === deployed)).toHaveLength(1);
  });

  it("docs-drift: started with Run now in the dashboard, it opens a pull request that fixes the docs", async () => {
    const { github, model } = world;
    model.session(MARKERS["docs-drift"], [
      call("edit_file", { path: "README.md", old_text: "--port 8080", new_text: "--listen 8080" }),
      call("open_pull_request", { title: "docs: bring the README in line with the code", body: "The flag is --listen since app.js changed.", draft: false }),
      outcome("Fixed one drift in README.md."),
    ]);
    // The weekly schedule cannot be waited for: Run now starts the routine as the schedule would, without extra text.
    const browser = await signIn();
    const started = await browser.post(`/dashboard/repos/${repo("docs-drift")}/routines/docs-drift/run`, { _csrf: await browser.csrf(), text: "" });
    expect(started.status).toBe(303);

    const pull = await openedPull("docs-drift");
    expect(pull).toMatchObject({ title: "docs: bring the README in line with the code", draft: false });
    expect(await github.file(repo("docs-drift"), `refs/heads/${pull.head}`, "README.md")).toContain("--listen 8080");
    expect(await github.file(repo("docs-drift"), "refs/heads/main", "README.md")).toBe(README);
  });

  it("port: a request POSTed to its endpoint ends in a pull request with the ported code", async () => {
    const { github, model } = world;
    model.session(MARKERS.port, [
      call("create_file", { path: "app.ts", content: APP_JS.replace(/export const (\w+) = (\d+);/g, "export const $1: number = $2;") }),
      call("open_pull_request", { title: "Port app.js to TypeScript", body: "Ported app.js to app.ts with types; app.js stays until its callers move." }),
      outcome("Ported app.js to TypeScript; the pull request is a draft until callers move."),
    ]);
    const runId = await fire("port", "Port app.js to TypeScript");

    const pull = await openedPull("port");
    expect(pull.title).toBe("Port app.js to TypeScript");
    expect(await github.file(repo("port"), `refs/heads/${pull.head}`, "app.ts")).toContain("export const value1: number = 1;");
    expect(firstPrompt("port")).toContain("Port app.js to TypeScript");
    await eventually(async () => /completed[^]*succeeded/.test(await routines("runs", "show", runId)), { what: "the run to complete with its outcome" });
  });
});

/** Signs in through the fake GitHub's authorize page, as a browser following the redirects would. */
async function signIn(): Promise<Browser> {
  const browser = new Browser(server.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  expect((await browser.fetch(`${callback.pathname}${callback.search}`)).status).toBe(303);
  return browser;
}
