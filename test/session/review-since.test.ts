import nock from "nock";
import { describe, expect, it } from "vitest";
import { changesSinceReview, withinPullRequest } from "../../src/session/review-since.js";
import { API, TestOctokit, useNock } from "../support/github.js";

const REPOSITORY = { owner: "acme", repo: "app" };
const OLD = "a".repeat(40);
const HEAD = "b".repeat(40);
const octokit = () => new TestOctokit({ auth: { token: "ghs_x" } });
const compare = () => nock(API).get(`/repos/acme/app/compare/${OLD}...${HEAD}`).query(true);

describe("changesSinceReview", () => {
  useNock();

  it("gives the files changed since the reviewed commit when the head descends from it", async () => {
    compare().reply(200, { status: "ahead", ahead_by: 2, files: [{ filename: "src/a.ts", status: "modified", additions: 1, deletions: 1, patch: "@@ -1 +1 @@\n-a\n+b" }] });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toEqual({
      kind: "since",
      commit: OLD,
      commits: 2,
      files: [{ path: "src/a.ts", status: "modified", additions: 1, deletions: 1, patch: "@@ -1 +1 @@\n-a\n+b" }],
    });
  });

  it("asks for the whole pull request when the reviewed commit left the branch's history or cannot be compared", async () => {
    const rewritten = { kind: "whole", commit: OLD, why: "it is no longer part of the branch's history (a force-push or a rebase)" };
    compare().reply(200, { status: "diverged", ahead_by: 1, behind_by: 1, files: [] });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toEqual(rewritten);
    compare().reply(404, { message: "No common ancestor between a and b." });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toEqual(rewritten);
    compare().reply(502, { message: "Bad gateway" });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toEqual({ kind: "whole", commit: OLD, why: "the changes since it could not be read (GitHub answered 502)" });
  });

  it("reviews the whole pull request when more changed since than GitHub's compare lists whole", async () => {
    compare().reply(200, { status: "ahead", ahead_by: 101, files: [] });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toEqual({ kind: "whole", commit: OLD, why: "more changed since it than GitHub's compare lists whole (101 commits, 0 files listed)" });
    const files = Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}`, status: "added", additions: 1, deletions: 0 }));
    compare().reply(200, { status: "ahead", ahead_by: 3, files });
    expect(await changesSinceReview(octokit(), REPOSITORY, OLD, HEAD)).toMatchObject({ kind: "whole", why: "more changed since it than GitHub's compare lists whole (3 commits, 300 files listed)" });
  });

  it("says nothing changed for the same commit, without asking GitHub", async () => {
    expect(await changesSinceReview(octokit(), REPOSITORY, HEAD, HEAD)).toEqual({ kind: "unchanged", commit: HEAD });
  });
});

describe("withinPullRequest", () => {
  const file = (path: string) => ({ path, status: "modified", additions: 1, deletions: 1 });
  it("keeps the files the pull request changes and counts those it does not, as a merge of the base branch brings them", () => {
    const since = { kind: "since" as const, commit: OLD, commits: 3, files: [file("src/a.ts"), file("docs/base.md"), file("lib/base.ts")] };
    expect(withinPullRequest(since, new Set(["src/a.ts", "src/b.ts"]))).toEqual({ ...since, files: [file("src/a.ts")], outside: 2 });
    expect(withinPullRequest(since, new Set(["src/a.ts", "docs/base.md", "lib/base.ts"]))).toBe(since);
    const whole = { kind: "whole" as const, commit: OLD, why: "a force-push" };
    expect(withinPullRequest(whole, new Set())).toBe(whole);
  });
});
