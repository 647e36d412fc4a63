// The templates as a new team starts them: each repository's .claude/ is exactly what
// `routines init --use <use>` wrote into a checkout of it, served by the fake GitHub to the built
// server, and each run ends where the template says (a review with inline comments, a draft pull
// request, a pull request). The fake model plays the agent; its sessions are keyed by a sentence
// of each template's prompt, so a run proves that the prompt file reached the model.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, ROOT, eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, startWorld, type World } from "./support/world.js";

const exec = promisify(execFile);
const OWNER = "acme";
const APP_JS = Array.from({ length: 20 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join("\n") + "\n";
const README = "# app\n\nRun `node app.js --port 8080` to start it.\n";

/** A sentence of each template's prompt that names its sessions in the fake model. */
const MARKERS = {
  review: "Review this pull request as a careful senior engineer of this team would",
  "alert-triage": "An alert from monitoring started this run",
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
