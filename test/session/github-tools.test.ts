import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecretGrants } from "../../src/config/secret-grants.js";
import { branchProblem } from "../../src/session/git-publish.js";
import { prepareCheckouts } from "../../src/session/other-repositories.js";
import type { GitHubRun } from "../../src/session/github-run.js";
import { githubTools, publishes, reviewTools } from "../../src/session/github-tools.js";
import { GitHubWrites } from "../../src/session/github-writes.js";
import { createRedactor } from "../../src/session/redact.js";
import { commentTool } from "../../src/session/tools/comment.js";
import { createReviewTool } from "../../src/session/tools/create-review.js";
import { openPullRequestTool } from "../../src/session/tools/open-pull-request.js";
import { pushBranchTool } from "../../src/session/tools/push-branch.js";
import { shell } from "../../src/session/tools/shell.js";
import { Workspaces } from "../../src/session/workspace.js";
import { commandEnvironment, runSecrets } from "../../src/session/command-env.js";
import { createServedRepository, run, startGitServer, type GitServer } from "../support/git-server.js";
import { API, TestOctokit, useNock } from "../support/github.js";

const REPO = "/repos/acme/app";
const TOKEN = "ghs_tool_token_0123456789";
const SECRET = "sentry-secret-value-42";
/** The app's bot, as GitHub names the author of what the run posts. */
const BOT = { login: "bot" };
const PATCH = "@@ -10,4 +10,5 @@ class A {\n   one();\n-  two();\n+  deux();\n+  trois();\n   four();\n }";

function githubRun(overrides: Partial<GitHubRun> = {}): GitHubRun {
  return {
    octokit: new TestOctokit({ auth: { token: TOKEN } }),
    token: TOKEN,
    repository: { owner: "acme", repo: "app" },
    dir: "/nonexistent",
    url: "https://github.com/acme/app.git",
    defaultBranch: "main",
    pullRequest: { number: 5, headSha: "abc123", headRef: "feature", baseRef: "main", title: "T", author: "octocat" },
    routine: "review",
    runId: "run_00000000000000000001",
    allowUnrestrictedBranchPushes: false,
    author: { name: "bot", email: "bot@example.com" },
    redact: createRedactor([TOKEN, SECRET]),
    writes: new GitHubWrites(20),
    ...overrides,
  };
}
const call = (tool: ReturnType<typeof commentTool>, input: unknown) => tool.run(input, { root: "/", env: {}, signal: new AbortController().signal });

describe("create_review", () => {
  useNock();

  /** What the tool reads before posting: the diff, and what earlier runs already posted. */
  const reviewReads = (comments: object[] = [], reviews: object[] = []) => {
    nock(API).get(`${REPO}/pulls/5/files`).query(true).reply(200, [{ filename: "src/a.ts", patch: PATCH }]);
    nock(API).get(`${REPO}/pulls/5/comments`).query(true).reply(200, comments);
    nock(API).get(`${REPO}/pulls/5/reviews`).query(true).reply(200, reviews);
  };
  /** Expects the review to be posted, and keeps what was sent. */
  const postedReview = (url: string) => {
    const posted: { body?: any } = {}; // the review as sent to GitHub
    nock(API)
      .post(`${REPO}/pulls/5/reviews`, (body) => ((posted.body = body), true))
      .reply(200, { html_url: url });
    return posted;
  };

  it("checks every comment against the diff: lines and ranges in it go inline, others into the summary, and a rerun repeats nothing", async () => {
    const review = {
      body: "Summary.",
      comments: [
        { path: "src/a.ts", line: 12, body: "Why deux?" },
        { path: "src/a.ts", start_line: 12, line: 13, body: "Both lines.", suggestion: "  two();\n  three();" },
        { path: "src/a.ts", line: 11, side: "LEFT", body: "Removed here." },
        { path: "src/a.ts", line: 40, body: "Far away." },
        { path: "src/b.ts", line: 1, body: "Not in the pull request." },
      ],
    };
    reviewReads();
    const posted = postedReview("https://github.com/acme/app/pull/5#review-1");
    const first = await call(createReviewTool(githubRun()), review);
    const sent = posted.body;
    expect(first.output).toBe("Posted https://github.com/acme/app/pull/5#review-1 with 3 inline comments, 2 moved into the summary (outside the diff), 0 already posted.");
    expect(sent.comments.map((c: { path: string; line: number; side: string; start_line?: number }) => [c.path, c.line, c.side, c.start_line])).toEqual([
      ["src/a.ts", 12, "RIGHT", undefined],
      ["src/a.ts", 13, "RIGHT", 12],
      ["src/a.ts", 11, "LEFT", undefined],
    ]);
    expect(sent.comments[1].body).toMatch(/^Both lines\.\n\n```suggestion\n {2}two\(\);\n {2}three\(\);\n```\n\n<!-- routines:/);
    expect(sent.body).toContain("**`src/a.ts` line 40** (outside the diff):\n\nFar away.");
    expect(sent.body).toContain("**`src/b.ts` line 1** (outside the diff):\n\nNot in the pull request.");

    // The rerun sees its own marks on the pull request and posts nothing again.
    reviewReads(sent.comments.map((c: object) => ({ ...c, user: BOT })), [{ body: sent.body, user: BOT }]);
    expect((await call(createReviewTool(githubRun()), review)).output).toBe("Nothing new to post: this review was already posted.");
  });

  it("posts no finding equal in substance to one already on the same lines, reworded or not, and says which and why", async () => {
    const earlier = [
      { path: "src/a.ts", line: 12, side: "RIGHT", body: "The retry limit `MAX_RETRIES` is off by one: it allows 4 tries.\n\n<!-- routines:0123456789abcdef routine:review at:src%2Fa.ts:RIGHT:12-12 -->", user: BOT, html_url: "https://github.com/acme/app/pull/5#discussion_r1" },
      // Resolved or outdated, a thread keeps the place it was posted at.
      { path: "src/a.ts", line: null, original_line: 13, side: "RIGHT", body: "Trois is never called.\n\n<!-- routines:1123456789abcdef routine:review at:src%2Fa.ts:RIGHT:13-13 -->", user: BOT, html_url: "https://github.com/acme/app/pull/5#discussion_r2" },
    ];
    const outsideReview = { body: "Earlier.\n\n**`src/b.ts` line 1** (outside the diff):\n\nThe file `b.ts` lacks a licence header.\n\n<!-- routines:2123456789abcdef routine:review at:src%2Fb.ts:RIGHT:1-1 -->\n\n<!-- routines:3123456789abcdef -->", user: BOT, html_url: "https://github.com/acme/app/pull/5#review-0" };
    reviewReads(earlier, [outsideReview]);
    const posted = postedReview("https://github.com/acme/app/pull/5#review-3");
    const result = await call(createReviewTool(githubRun()), {
      body: "Second look.",
      comments: [
        { path: "src/a.ts", line: 12, body: "**Off by one:** the retry limit `maxRetries` allows 5 tries; it is off by one." },
        { path: "src/a.ts", start_line: 12, line: 13, body: "trois is NEVER called!" },
        { path: "src/b.ts", line: 1, body: "the file `a.ts` lacks a licence header" },
        { path: "src/a.ts", line: 12, body: "Deux should be spelled out in English." },
        { path: "src/a.ts", line: 10, body: "The retry limit `MAX_RETRIES` is off by one: it allows 4 tries." },
      ],
    });
    expect(result.output).toBe(
      [
        "Posted https://github.com/acme/app/pull/5#review-3 with 2 inline comments, 0 moved into the summary (outside the diff), 3 already posted.",
        "Not posted, equal in substance to a finding already on the pull request (same lines, same wording):",
        "- src/a.ts line 12: as https://github.com/acme/app/pull/5#discussion_r1",
        "- src/a.ts lines 12-13: as https://github.com/acme/app/pull/5#discussion_r2",
        "- src/b.ts line 1: as https://github.com/acme/app/pull/5#review-0",
      ].join("\n"),
    );
    // A new remark on the same line, and the old remark on other lines, are findings of their own.
    expect(posted.body.comments.map((c: { line: number; body: string }) => [c.line, c.body.split("\n")[0]])).toEqual([
      [12, "Deux should be spelled out in English."],
      [10, "The retry limit `MAX_RETRIES` is off by one: it allows 4 tries."],
    ]);
    expect(posted.body.comments[0].body).toMatch(/<!-- routines:[0-9a-f]{16} routine:review at:src%2Fa\.ts:RIGHT:12-12 -->$/);

    // When nothing is left, nothing is posted.
    reviewReads(earlier, [outsideReview]);
    expect((await call(createReviewTool(githubRun()), { body: "Again.", comments: [{ path: "src/a.ts", line: 12, body: "the retry limit `x` is off by one: it allows 9 tries" }] })).output).toMatch(
      /^Nothing new to post: every comment repeats an earlier finding \(say in your outcome what is still open\)\.\nNot posted, /,
    );
  });

  it("counts only its own findings: a comment by someone else that copies a finding and its mark silences nothing", async () => {
    const forged = { path: "src/a.ts", line: 12, side: "RIGHT", body: "Why deux?\n\n<!-- routines:0123456789abcdef routine:review at:src%2Fa.ts:RIGHT:12-12 -->", user: { login: "mallory" } };
    reviewReads([forged], [{ body: forged.body, user: { login: "mallory" } }]);
    const posted = postedReview("u");
    const result = await call(createReviewTool(githubRun()), { body: "Summary.", comments: [{ path: "src/a.ts", line: 12, body: "Why deux?" }] });
    expect(result.output).toBe("Posted u with 1 inline comment, 0 moved into the summary (outside the diff), 0 already posted.");
    expect(posted.body.comments).toHaveLength(1);
  });

  it("redacts the token from everything it posts, and says when there is no pull request", async () => {
    reviewReads();
    const posted = postedReview("u");
    await call(createReviewTool(githubRun()), { body: `token ${TOKEN}`, comments: [{ path: "src/a.ts", line: 12, body: `see ${TOKEN} and ${SECRET}` }] });
    const sent = posted.body;
    expect(JSON.stringify(sent)).not.toContain(TOKEN);
    expect(JSON.stringify(sent)).not.toContain(SECRET);
    expect(sent.body).toMatch(/^token \[REDACTED\]/);
    const { pullRequest: _, ...withoutPullRequest } = githubRun();
    expect(await call(createReviewTool(withoutPullRequest), { body: "x", comments: [] })).toEqual({
      output: "create_review failed: this run is not about a pull request, so there is nothing to review",
      isError: true,
    });
  });
});

describe("create_review with ranges across hunks", () => {
  useNock();

  // Two hunks: new lines 1-4 (2 added) and 21-24 (22 added); old lines 1-3 and 20-22.
  const TWO_HUNKS = "@@ -1,3 +1,4 @@\n one\n+two\n three\n four\n@@ -20,3 +21,4 @@ function b() {\n twenty-one\n+twenty-two\n twenty-three\n twenty-four";

  it("keeps a range within one hunk, puts a range across hunks on its last line, and moves a range ending outside the diff into the summary", async () => {
    nock(API).get(`${REPO}/pulls/5/files`).query(true).reply(200, [{ filename: "src/a.ts", patch: TWO_HUNKS }]);
    nock(API).get(`${REPO}/pulls/5/comments`).query(true).reply(200, []);
    nock(API).get(`${REPO}/pulls/5/reviews`).query(true).reply(200, []);
    const posted: { body?: any } = {}; // the review as sent to GitHub
    nock(API)
      .post(`${REPO}/pulls/5/reviews`, (body) => ((posted.body = body), true))
      .reply(200, { html_url: "https://github.com/acme/app/pull/5#review-2" });

    const review = {
      body: "Summary.",
      comments: [
        { path: "src/a.ts", start_line: 2, line: 4, body: "Within the first hunk." },
        { path: "src/a.ts", start_line: 3, line: 22, body: "From one hunk to the next.", suggestion: "  merged();" },
        { path: "src/a.ts", start_line: 1, line: 20, side: "LEFT", body: "Removed across hunks." },
        { path: "src/a.ts", start_line: 22, line: 30, body: "Runs past the diff." },
      ],
    };
    const result = await call(createReviewTool(githubRun()), review);
    const sent = posted.body;
    expect(result.output).toBe(
      "Posted https://github.com/acme/app/pull/5#review-2 with 3 inline comments (2 ranges across hunks put on their last line), 1 moved into the summary (outside the diff), 0 already posted.",
    );
    expect(sent.comments.map((c: { line: number; side: string; start_line?: number; start_side?: string }) => [c.line, c.side, c.start_line, c.start_side])).toEqual([
      [4, "RIGHT", 2, "RIGHT"],
      [22, "RIGHT", undefined, undefined],
      [20, "LEFT", undefined, undefined],
    ]);
    // The text is kept, the range is named, and a suggestion is shown but not offered as one:
    // applied to a single line, it would replace only that line.
    expect(sent.comments[1].body).toMatch(/^From one hunk to the next\.\n\nSuggested replacement for lines 3-22:\n\n```\n {2}merged\(\);\n```\n\n_About lines 3-22; shown on line 22 [^\n]*_\n\n<!-- routines:/);
    expect(sent.comments[1].body).not.toContain("```suggestion");
    expect(sent.comments[2].body).toMatch(/^Removed across hunks\.\n\n_About lines 1-20; shown on line 20 /);
    expect(sent.body).toContain("**`src/a.ts` lines 22-30** (outside the diff):\n\nRuns past the diff.");

    // A rerun recognizes the comments it moved to one line, and posts nothing again.
    nock(API).get(`${REPO}/pulls/5/files`).query(true).reply(200, [{ filename: "src/a.ts", patch: TWO_HUNKS }]);
    nock(API).get(`${REPO}/pulls/5/comments`).query(true).reply(200, sent.comments.map((c: object) => ({ ...c, user: BOT })));
    nock(API).get(`${REPO}/pulls/5/reviews`).query(true).reply(200, [{ body: sent.body, user: BOT }]);
    expect((await call(createReviewTool(githubRun()), review)).output).toBe("Nothing new to post: this review was already posted.");
  });
});

describe("comment", () => {
  useNock();

  it("comments on the pull request or the issue the run is about, redacted", async () => {
    nock(API).post(`${REPO}/issues/5/comments`, { body: "Done: [REDACTED]" }).reply(201, { html_url: "https://github.com/acme/app/pull/5#c1" });
    expect((await call(commentTool(githubRun()), { body: `Done: ${TOKEN}` })).output).toBe("Posted https://github.com/acme/app/pull/5#c1");
    const { pullRequest: _, ...onIssue } = githubRun();
    nock(API).post(`${REPO}/issues/9/comments`).reply(201, { html_url: "https://github.com/acme/app/issues/9#c2" });
    expect((await call(commentTool({ ...onIssue, issueNumber: 9 }), { body: "Hi" })).output).toBe("Posted https://github.com/acme/app/issues/9#c2");
    expect((await call(commentTool(onIssue), { body: "Hi" })).output).toBe("comment failed: this run is not about a pull request or an issue: give the number of the issue or pull request to comment on");
  });

  it("prints instead of posting in a dry run", async () => {
    const printed: string[] = [];
    const result = await call(commentTool(githubRun({ dryRun: { print: (text) => printed.push(text) } })), { body: "Hello" });
    expect(result.output).toBe("Dry run: the comment on acme/app#5 was printed, not posted.");
    expect(printed).toEqual(["[dry run] comment on acme/app#5:\nHello"]);
  });
});

describe("the shell never sees the token or the model key", () => {
  it("not in its environment, not in /proc/self/environ", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-server-model-key";
    process.env.GITHUB_TOKEN = TOKEN;
    try {
      const root = await realpath(await mkdtemp(join(tmpdir(), "routines-env-")));
      const env = commandEnvironment({ home: root, secrets: {} });
      const result = await shell.run({ command: "env; tr '\\0' '\\n' < /proc/self/environ" }, { root, env, signal: new AbortController().signal });
      expect(result.output).not.toContain(TOKEN);
      expect(result.output).not.toContain("sk-server-model-key");
      expect(result.output).toContain(`HOME=${root}`);
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
      delete process.env.GITHUB_TOKEN;
    }
  });
});

describe("secrets of fork pull request runs", () => {
  it("are none at all, even those the server has", () => {
    const grants = readSecretGrants({ ROUTINES_SECRET_SENTRY_TOKEN: "s3cr3t", ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES: "acme/app" });
    const repository = { owner: "acme", repo: "app" };
    expect(runSecrets(["SENTRY_TOKEN"], false, grants, repository)).toEqual({ SENTRY_TOKEN: "s3cr3t" });
    expect(runSecrets(["SENTRY_TOKEN"], true, grants, repository)).toEqual({});
    expect(commandEnvironment({ home: "/tmp/h", secrets: runSecrets(["SENTRY_TOKEN"], true, grants, repository) })).not.toHaveProperty("SENTRY_TOKEN");
  });
});

describe("push_branch and open_pull_request over smart HTTP", () => {
  const PUSH_TOKEN = "ghs_push_token_0123456789";
  const APP = Array.from({ length: 30 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join("\n") + "\n";
  let server: GitServer;
  let work: string;
  let bare: string;
  const url = () => `${server.url}/acme/big.git`;

  beforeAll(async () => {
    server = await startGitServer(PUSH_TOKEN);
    // A few MB of random data: a push that carries the tree stands out from one that does not.
    const data = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`data/blob-${i}.txt`, randomBytes(600_000).toString("base64")]));
    work = await createServedRepository(server, "acme", "big", { "src/app.ts": APP, "README.md": "# Big\n", ...data });
    bare = join(server.root, "acme", "big.git");
    // Every push kept as the pack it came in, so its size can be read on the receiving side.
    await run(bare, "config", "receive.unpackLimit", "1");
    // A pull request from a branch of the same repository, published as GitHub does.
    await run(work, "checkout", "-q", "-b", "feature");
    await writeFile(join(work, "src/app.ts"), APP.replace("value2 = 2", "value2 = 22"));
    await run(work, "commit", "-q", "-am", "Change value2");
    await writeFile(join(work, "README.md"), "# Big, featured\n");
    await run(work, "commit", "-q", "-am", "Change the readme");
    await run(work, "push", "-q", bare, "feature:refs/heads/feature", "feature:refs/pull/1/head");
    await run(work, "checkout", "-q", "main");
  }, 60_000);
  afterAll(() => server?.close());

  /** A workspace of the served repository and the GitHubRun of a run working in it. */
  async function checkout(options: { pullRequest?: boolean } = {}) {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const pullRequest = options.pullRequest ? { number: 1, headSha: await run(work, "rev-parse", "feature"), baseRef: "main" } : undefined;
    const workspace = await workspaces.checkout({ repository: { owner: "acme", repo: "big" }, url: url(), defaultBranch: "main", ...(pullRequest ? { pullRequest } : {}) }, PUSH_TOKEN);
    const github = githubRun({
      token: PUSH_TOKEN,
      repository: { owner: "acme", repo: "big" },
      dir: workspace.dir,
      url: url(),
      startCommit: workspace.head,
      runId: `run_${randomBytes(6).toString("hex")}`,
      ...(pullRequest ? {} : { pullRequest: undefined }),
    });
    return { workspace, github };
  }
  /** KiB of objects in the served repository: what pushes added to it, as sent. */
  const storedKiB = async () => {
    const stats = Object.fromEntries((await run(bare, "count-objects", "-v")).split("\n").map((line) => line.split(": ") as [string, string]));
    return Number(stats.size) + Number(stats["size-pack"]);
  };
  const edit = async (dir: string, path: string, from: string, to: string) => writeFile(join(dir, path), (await readFile(join(dir, path), "utf8")).replace(from, to));
  const push = (github: GitHubRun, branch: string, message = "Change") => call(pushBranchTool(github), { branch, commit_message: message });

  it("pushes a one-line change of a large repository as a few KB, even after the default branch moved on", async () => {
    const { workspace, github } = await checkout();
    // Someone pushes to main while the run works: the commit the run started from is no longer a branch tip.
    await run(work, "pull", "-q", bare, "main");
    await writeFile(join(work, "README.md"), "# Big, moved on\n");
    await run(work, "commit", "-q", "-am", "Move main on");
    await run(work, "push", "-q", bare, "main:refs/heads/main");

    await edit(workspace.dir, "src/app.ts", "value5 = 5", "value5 = 55");
    const before = await storedKiB();
    const result = await push(github, "claude/small-push");
    expect(result).toEqual({ output: "Pushed to claude/small-push (a new branch)." });
    expect((await storedKiB()) - before).toBeLessThan(20);
    expect(await run(bare, "rev-parse", "claude/small-push~1")).toBe(workspace.head);
    expect(await run(bare, "show", "claude/small-push:src/app.ts")).toContain("value5 = 55");
    // The objects the push left out are there: the branch is complete on the server.
    expect(await run(bare, "fsck", "--connectivity-only")).toBe("");
    await workspace.remove();
  });

  it("adds a second run's commit on top of the branch an earlier run pushed, without forcing", async () => {
    const first = await checkout();
    await edit(first.workspace.dir, "src/app.ts", "value10 = 10", "value10 = 100");
    expect((await push(first.github, "claude/shared", "First")).output).toBe("Pushed to claude/shared (a new branch).");
    const firstCommit = await run(bare, "rev-parse", "claude/shared");

    const second = await checkout();
    await edit(second.workspace.dir, "src/app.ts", "value20 = 20", "value20 = 200");
    const before = await storedKiB();
    const result = await push(second.github, "claude/shared", "Second");
    expect(result.isError).toBeUndefined();
    expect(result.output).toMatch(/^Pushed to claude\/shared: it had commits this run did not make, so your changes were committed on top of them as [0-9a-f]{7}\./);
    expect((await storedKiB()) - before).toBeLessThan(20);
    expect(await run(bare, "rev-parse", "claude/shared~1")).toBe(firstCommit);
    expect(await run(bare, "log", "-1", "--format=%s", "claude/shared")).toBe("Second");
    const app = await run(bare, "show", "claude/shared:src/app.ts");
    expect(app).toContain("value10 = 100");
    expect(app).toContain("value20 = 200");
    // The working tree now holds the branch as pushed, and a further change goes on top of it.
    expect(await readFile(join(second.workspace.dir, "src/app.ts"), "utf8")).toContain("value10 = 100");
    expect(await run(second.workspace.dir, "status", "--porcelain")).toBe("");
    expect(await run(second.workspace.dir, "symbolic-ref", "refs/remotes/origin/HEAD")).toBe("refs/remotes/origin/main");
    await edit(second.workspace.dir, "src/app.ts", "value21 = 21", "value21 = 210");
    expect((await push(second.github, "claude/shared", "Third")).output).toBe("Pushed to claude/shared.");
    expect(await run(bare, "rev-parse", "claude/shared~2")).toBe(firstCommit);
    // Pushing again with nothing new says so.
    expect((await push(second.github, "claude/shared", "Again")).output).toBe("There was nothing to push: claude/shared already has every commit of the working tree.");
    await first.workspace.remove();
    await second.workspace.remove();
  });

  it("refuses a push whose changes conflict with the branch, naming the files and never suggesting to force", async () => {
    const first = await checkout();
    await edit(first.workspace.dir, "src/app.ts", "value7 = 7", "value7 = 70");
    await push(first.github, "claude/conflict", "First");
    const tip = await run(bare, "rev-parse", "claude/conflict");

    const second = await checkout();
    await edit(second.workspace.dir, "src/app.ts", "value7 = 7", "value7 = 700");
    const result = await push(second.github, "claude/conflict", "Second");
    expect(result.isError).toBe(true);
    expect(result.output).toContain("src/app.ts");
    expect(result.output).toMatch(/conflict/);
    expect(result.output).not.toMatch(/force/i);
    expect(await run(bare, "rev-parse", "claude/conflict")).toBe(tip);

    // The same new file, added with different contents on both sides.
    await writeFile(join(first.workspace.dir, "NOTES.md"), "First notes\n");
    await push(first.github, "claude/conflict", "First notes");
    await writeFile(join(second.workspace.dir, "NOTES.md"), "Second notes\n");
    const added = await push(second.github, "claude/conflict", "Second notes");
    expect(added.isError).toBe(true);
    expect(added.output).toContain("you and claude/conflict both changed NOTES.md");
    expect(added.output).not.toMatch(/force/i);
    await first.workspace.remove();
    await second.workspace.remove();
  });

  it("on a pull request run with no edits, pushes nothing: the pull request's own commits are not the run's", async () => {
    const { workspace, github } = await checkout({ pullRequest: true });
    const before = server.requests.length;
    expect(await push(github, "claude/nothing")).toEqual({ output: "push_branch failed: there is nothing to push: edit files first", isError: true });
    expect(await call(openPullRequestTool(github), { title: "Nothing", body: "" })).toEqual({
      output: "open_pull_request failed: there are no changes to propose: edit files first",
      isError: true,
    });
    expect(server.requests.slice(before).filter((request) => request.path.endsWith("git-receive-pack"))).toEqual([]);
    expect(await run(bare, "branch", "--list", "claude/nothing")).toBe("");

    // With an edit, the branch holds the pull request's head and one commit on top, sent as a few KB.
    await edit(workspace.dir, "src/app.ts", "value3 = 3", "value3 = 33");
    const size = await storedKiB();
    expect((await push(github, "claude/on-pr")).output).toBe("Pushed to claude/on-pr (a new branch).");
    expect((await storedKiB()) - size).toBeLessThan(20);
    expect(await run(bare, "rev-parse", "claude/on-pr~1")).toBe(await run(work, "rev-parse", "feature"));

    // A branch whose tip is in the pull request's history moves forward to the run's commit.
    const below = await run(work, "rev-parse", "feature~2");
    await run(bare, "update-ref", "refs/heads/claude/below", below);
    expect((await push(github, "claude/below")).output).toBe("Pushed to claude/below.");
    expect(await run(bare, "rev-parse", "claude/below~3")).toBe(below);
    await workspace.remove();
  });

  it("pushes another repository of the run shared for writing, with its own token, and never one shared read-only", async () => {
    const docsWork = await createServedRepository(server, "acme", "docs", { "index.md": "# Docs\n" });
    const { github } = await checkout();
    const others = [{ repository: { owner: "acme", repo: "docs" }, access: "write" as const, path: ".routines/repos/acme/docs" }];
    await prepareCheckouts(github.dir, others);
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const docsUrl = `${server.url}/acme/docs.git`;
    const docs = await workspaces.checkout({ repository: { owner: "acme", repo: "docs" }, url: docsUrl, defaultBranch: "main", at: join(github.dir, others[0]!.path) }, PUSH_TOKEN);
    const docsRun = githubRun({ token: PUSH_TOKEN, repository: { owner: "acme", repo: "docs" }, dir: docs.dir, url: docsUrl, startCommit: docs.head, pullRequest: undefined });
    github.others = [
      { name: "acme/docs", access: "write", octokit: docsRun.octokit, run: docsRun },
      { name: "acme/lib", access: "read", octokit: github.octokit },
    ];
    await writeFile(join(docs.dir, "index.md"), "# Docs, synced\n");

    // The own repository's status leaves the other checkouts out: nothing of them goes into its pushes.
    expect((await call(pushBranchTool(github), { branch: "claude/docs", commit_message: "Sync" })).output).toContain("there is nothing to push");
    const pushed = await call(pushBranchTool(github), { branch: "claude/docs", commit_message: "Sync", repository: "acme/docs" });
    expect(pushed.output).toBe("Pushed to claude/docs (a new branch).");
    expect(await run(docsWork, "fetch", "-q", join(server.root, "acme", "docs.git"), "claude/docs").then(() => run(docsWork, "show", "FETCH_HEAD:index.md"))).toBe("# Docs, synced");
    expect(await run(bare, "branch", "--list", "claude/docs")).toBe("");

    const readOnly = await call(pushBranchTool(github), { branch: "claude/lib", commit_message: "x", repository: "acme/lib" });
    expect(readOnly).toEqual({ output: "push_branch failed: acme/lib is read-only in this run: it shares itself with acme/big for reading only, so nothing is pushed or posted to it", isError: true });
    const pullRequest = await call(openPullRequestTool(github), { title: "x", body: "x", repository: "acme/lib" });
    expect(pullRequest.output).toContain("acme/lib is read-only in this run");
    const unknown = await call(pushBranchTool(github), { branch: "claude/x", commit_message: "x", repository: "acme/secret" });
    expect(unknown.output).toBe("push_branch failed: acme/secret is not one of this run's repositories (acme/big, acme/docs, acme/lib)");
    // Only claude/ branches in a shared repository, whatever the own routine allows.
    const main = await call(pushBranchTool({ ...github, allowUnrestrictedBranchPushes: true }), { branch: "main", commit_message: "x", repository: "acme/docs" });
    expect(main.output).toContain("pushes go only to claude/ branches");
  });

  it("takes every branch name git takes, and only claude/ ones unless the routine allows more", () => {
    expect(branchProblem("claude/fix+1@2#3-ünïcödé", false)).toBeUndefined();
    expect(branchProblem("claude/a b", false)).toBe('"claude/a b" is not a valid branch name: it contains a space');
    expect(branchProblem("claude/x.lock", false)).toBe('"claude/x.lock" is not a valid branch name: its part "x.lock" ends with .lock');
    expect(branchProblem("feature/x", false)).toMatch(/^pushes go only to claude\/ branches/);
    expect(branchProblem("feature/x", true)).toBeUndefined();
  });
});

describe("the GitHub tools", () => {
  it("all but the reading ones count as publishing, so a run that called one is never executed twice after an interruption", () => {
    const reads = ["search_issues", "read_issue", "review_threads", "pull_request_files", "pull_request_diff"];
    for (const tool of githubTools(githubRun())) expect(publishes(tool.name), tool.name).toBe(!reads.includes(tool.name));
    expect(publishes("mcp__tracker__create_ticket")).toBe(true);
    expect(publishes("shell")).toBe(false);
  });

  it("give a fork's run only a comment on its own pull request, its diff, a review and a look at its earlier threads", () => {
    const tools = reviewTools(githubRun());
    expect(tools.map((tool) => tool.name)).toEqual(["comment", "pull_request_files", "pull_request_diff", "create_review", "review_threads"]);
    expect(Object.keys((tools[0]!.inputSchema as { properties: object }).properties)).toEqual(["body"]);
  });
});
