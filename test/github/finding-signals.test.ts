import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { FindingSignals } from "../../src/github/finding-signals.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { RunRecord } from "../../src/runs/store.js";
import { findingMark } from "../../src/session/github-run.js";
import { API, TestOctokit, useNock } from "../support/github.js";

const REPOSITORY = { owner: "acme", repo: "app" };
const POSTED = "a".repeat(40);
const HEAD = "b".repeat(40);
const BOT = "routines-app[bot]";

const run: RunRecord = {
  id: "run_1",
  status: "completed",
  createdAt: new Date("2026-11-20T09:00:00Z"),
  routine: "review",
  repository: REPOSITORY,
  installationId: 7,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId: "d1", sender: "octocat" },
  context: { withoutSecrets: false, pullRequest: { number: 7, headSha: POSTED, headRef: "f", baseRef: "main", title: "t", author: "octocat" } },
};

const comment = (id: number, body: string, login: string, reactions: Array<[string, string]> = []) => ({
  databaseId: id,
  body,
  createdAt: "2026-11-20T10:00:00Z",
  author: { login },
  originalCommit: { oid: POSTED },
  reactions: { nodes: reactions.map(([content, user]) => ({ content, user: { login: user } })) },
});
const mark = (line: number, routine = "review") => findingMark("0123456789abcdef", routine, { path: "src/a.ts", side: "RIGHT", start: line, end: line });

const threads = (nodes: unknown[]) => ({ data: { repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: false, endCursor: null }, nodes } } } } });

// Line 11 replaced; line 20 untouched.
const PATCH = "@@ -10,3 +10,3 @@\n ten\n-eleven\n+ELEVEN\n twelve";

const event = (action: string, merged = false) => ({
  action,
  installation: { id: 7 },
  repository: { name: "app", owner: { login: "acme" } },
  pull_request: { number: 7, merged, merged_at: merged ? "2026-11-21T10:00:00Z" : null, head: { sha: HEAD } },
});

describe("FindingSignals", () => {
  useNock();
  const stores: SqliteStore[] = [];
  afterEach(async () => Promise.all(stores.splice(0).map((store) => store.close())));

  const setup = async (ran = true) => {
    const store = new SqliteStore(":memory:");
    stores.push(store);
    if (ran) await store.insertRun(run);
    const warnings: string[] = [];
    const signals = new FindingSignals({
      store,
      clientFor: async () => new TestOctokit({ auth: { token: "ghs_x" } }),
      appLogin: async () => BOT,
      log: { warn: (_details, message) => warnings.push(message) },
    });
    return { store, signals, warnings };
  };

  it("records the bot's findings with their thread, reactions and changed lines, and counts them once merged", async () => {
    const { store, signals } = await setup();
    const graphql = nock(API)
      .post("/graphql")
      .twice()
      .reply(200, threads([
        { isResolved: false, comments: { nodes: [comment(101, `Off by one.\n\n${mark(11)}`, "routines-app", [["THUMBS_DOWN", "octocat"], ["THUMBS_UP", "routines-app"]])] } },
        { isResolved: true, comments: { nodes: [comment(102, `Leaks a handle.\n\n${mark(20)}`, "routines-app", [["THUMBS_UP", "octocat"], ["HEART", "octocat"]])] } },
        // A person's copy of a mark is not a finding.
        { isResolved: true, comments: { nodes: [comment(103, `Mine.\n\n${mark(30)}`, "mallory")] } },
        // The bot's comment without a finding mark neither.
        { isResolved: false, comments: { nodes: [comment(104, "A reply.", "routines-app")] } },
      ]));
    const compare = nock(API).get(`/repos/acme/app/compare/${POSTED}...${HEAD}`).query(true).twice().reply(200, { status: "ahead", ahead_by: 1, files: [{ filename: "src/a.ts", status: "modified", patch: PATCH }] });

    await signals.onPullRequest(event("synchronize"));
    expect(await store.pullRequestFindings(REPOSITORY, 7)).toMatchObject([
      { commentId: 101, routine: "review", path: "src/a.ts", side: "RIGHT", startLine: 11, endLine: 11, headSha: POSTED, resolved: false, linesChanged: true, thumbsUp: 0, thumbsDown: 1 },
      { commentId: 102, routine: "review", startLine: 20, resolved: true, linesChanged: false, thumbsUp: 1, thumbsDown: 0 },
    ]);
    expect(await store.findingStats([REPOSITORY])).toEqual([]);

    await signals.onPullRequest(event("closed", true));
    expect(graphql.isDone() && compare.isDone()).toBe(true);
    expect(await store.findingStats([REPOSITORY])).toEqual([{ repository: REPOSITORY, routine: "review", findings: 2, addressed: 2, unknown: 0, pullRequests: 1, thumbsUp: 1, thumbsDown: 1 }]);
  });

  it("follows a thread resolved and unresolved from its event", async () => {
    const { store, signals } = await setup();
    await store.recordFinding({ repository: REPOSITORY, installationId: 7, pullNumber: 7, routine: "review", commentId: 101, path: "src/a.ts", side: "RIGHT", startLine: 1, endLine: 1, headSha: POSTED, postedAt: new Date() });
    const thread = (action: string, id = 101) => ({ action, repository: { name: "app", owner: { login: "acme" } }, thread: { comments: [{ id }, { id: id + 1 }] } });
    await signals.onReviewThread(thread("resolved"));
    expect((await store.pullRequestFindings(REPOSITORY, 7))[0]!.resolved).toBe(true);
    await signals.onReviewThread(thread("unresolved"));
    expect((await store.pullRequestFindings(REPOSITORY, 7))[0]!.resolved).toBe(false);
    // Another thread, or a reply's id, names no finding.
    await signals.onReviewThread(thread("resolved", 102));
    expect((await store.pullRequestFindings(REPOSITORY, 7)).map((finding) => finding.resolved)).toEqual([false]);
  });

  it("leaves what GitHub does not answer unknown and never throws", async () => {
    const { store, signals, warnings } = await setup();
    await store.recordFinding({ repository: REPOSITORY, installationId: 7, pullNumber: 7, routine: "review", commentId: 101, path: "src/a.ts", side: "RIGHT", startLine: 11, endLine: 11, headSha: POSTED, postedAt: new Date() });
    nock(API).post("/graphql").reply(502, { message: "Server Error" });
    nock(API).get(`/repos/acme/app/compare/${POSTED}...${HEAD}`).query(true).reply(200, { status: "diverged", ahead_by: 1, behind_by: 1, files: [] });
    await signals.onPullRequest(event("closed", true));
    expect(warnings).toEqual([expect.stringContaining("review threads could not be read")]);
    expect(await store.findingStats([REPOSITORY])).toEqual([{ repository: REPOSITORY, routine: "review", findings: 1, addressed: 0, unknown: 1, pullRequests: 1, thumbsUp: 0, thumbsDown: 0 }]);
  });

  it("asks GitHub nothing on pull requests where no routine ran, or closed without a merge", async () => {
    const { store, signals, warnings } = await setup(false);
    await signals.onPullRequest(event("closed", true));
    const other = await setup();
    await other.signals.onPullRequest(event("closed", false));
    await other.signals.onPullRequest(event("opened"));
    // nock refuses every request: one made would have been logged.
    expect([...warnings, ...other.warnings]).toEqual([]);
    expect(await store.pullRequestFindings(REPOSITORY, 7)).toEqual([]);
  });
});
