import nock from "nock";
import { describe, expect, it } from "vitest";
import { githubTools } from "../../src/session/github-tools.js";
import { GitHubWrites } from "../../src/session/github-writes.js";
import { API, useNock } from "../support/github.js";
import { call, githubRun } from "./tools/github-run.js";

describe("the cap on GitHub writes", () => {
  useNock();

  it("counts writes, and refuses the one past the cap with a message the model can act on", () => {
    const writes = new GitHubWrites(2);
    writes.take("a");
    writes.take("b");
    expect(writes.made).toBe(2);
    expect(() => writes.take("the comment on acme/app#1")).toThrow(
      "this run has made its 2 GitHub writes (max_github_writes), so the comment on acme/app#1 was not sent; finish without it and say in your outcome what is left to do",
    );
    expect(writes.made).toBe(2);
    expect(() => new GitHubWrites(0).take("x")).toThrow("this run has made its 0 GitHub writes");
  });

  it("is one count across the tools and the repositories of a run, and reads do not count", async () => {
    const run = githubRun({}, 2);
    const tool = (name: string) => githubTools(run).find((candidate) => candidate.name === name)!;
    nock(API).get("/search/issues").query(true).reply(200, { total_count: 0, incomplete_results: false, items: [] });
    await call(tool("search_issues"), {});
    nock(API).post("/repos/acme/app/issues/1/labels").reply(200, [{ name: "bug" }]);
    expect((await call(tool("add_labels"), { number: 1, labels: ["bug"] })).isError).toBeUndefined();
    nock(API).post("/repos/acme/docs/issues/2/comments").reply(201, { html_url: "u" });
    expect((await call(tool("comment"), { body: "x", number: 2, repository: "acme/docs" })).output).toBe("Posted u");
    const refused = await call(tool("assign"), { number: 1, assignees: ["alice"] });
    expect(refused).toEqual({ output: expect.stringMatching(/^assign failed: this run has made its 2 GitHub writes/), isError: true });
    // Nothing was sent for the refused write: useNock fails on any request left unanswered.
  });
});
