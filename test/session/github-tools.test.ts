import { mkdtemp, realpath } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { describe, expect, it } from "vitest";
import type { GitHubRun } from "../../src/session/github-run.js";
import { createRedactor } from "../../src/session/redact.js";
import { commentTool } from "../../src/session/tools/comment.js";
import { createReviewTool } from "../../src/session/tools/create-review.js";
import { shell } from "../../src/session/tools/shell.js";
import { commandEnvironment, runSecrets } from "../../src/session/command-env.js";
import { API, TestOctokit, useNock } from "../support/github.js";

const REPO = "/repos/acme/app";
const TOKEN = "ghs_tool_token_0123456789";
const SECRET = "sentry-secret-value-42";
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
    ...overrides,
  };
}
const call = (tool: ReturnType<typeof commentTool>, input: unknown) => tool.run(input, { root: "/", env: {}, signal: new AbortController().signal });

describe("create_review", () => {
  useNock();

  /** What the tool reads before posting: the diff, and what earlier runs already posted. */
  const reviewReads = (comments: Array<{ body: string }> = [], reviews: Array<{ body: string }> = []) => {
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
    reviewReads(sent.comments.map((c: { body: string }) => ({ body: c.body })), [{ body: sent.body }]);
    expect((await call(createReviewTool(githubRun()), review)).output).toBe("Nothing new to post: this review was already posted.");
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

describe("comment", () => {
  useNock();

  it("comments on the pull request or the issue the run is about, redacted", async () => {
    nock(API).post(`${REPO}/issues/5/comments`, { body: "Done: [REDACTED]" }).reply(201, { html_url: "https://github.com/acme/app/pull/5#c1" });
    expect((await call(commentTool(githubRun()), { body: `Done: ${TOKEN}` })).output).toBe("Posted https://github.com/acme/app/pull/5#c1");
    const { pullRequest: _, ...onIssue } = githubRun();
    nock(API).post(`${REPO}/issues/9/comments`).reply(201, { html_url: "https://github.com/acme/app/issues/9#c2" });
    expect((await call(commentTool({ ...onIssue, issueNumber: 9 }), { body: "Hi" })).output).toBe("Posted https://github.com/acme/app/issues/9#c2");
    expect((await call(commentTool(onIssue), { body: "Hi" })).output).toBe("comment failed: this run is not about a pull request or an issue, so there is nothing to comment on");
  });

  it("prints instead of posting in a dry run", async () => {
    const printed: string[] = [];
    const result = await call(commentTool(githubRun({ dryRun: { print: (text) => printed.push(text) } })), { body: "Hello" });
    expect(result.output).toBe("Dry run: the comment on #5 was printed, not posted.");
    expect(printed).toEqual(["[dry run] comment on #5:\nHello"]);
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
    const env = { ROUTINES_SECRET_SENTRY_TOKEN: "s3cr3t" };
    expect(runSecrets(["SENTRY_TOKEN"], false, env)).toEqual({ SENTRY_TOKEN: "s3cr3t" });
    expect(runSecrets(["SENTRY_TOKEN"], true, env)).toEqual({});
    expect(commandEnvironment({ home: "/tmp/h", secrets: runSecrets(["SENTRY_TOKEN"], true, env) })).not.toHaveProperty("SENTRY_TOKEN");
  });
});
