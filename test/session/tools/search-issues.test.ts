import nock from "nock";
import { describe, expect, it } from "vitest";
import { queryProblem, searchIssuesTool } from "../../../src/session/tools/search-issues.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun, issueJson, READ_TOKEN, TOKEN } from "./github-run.js";

/** Answers one search with `items`, keeping the q GitHub received. */
function search(items: unknown[], token = TOKEN) {
  const seen: { q?: string; per_page?: string } = {};
  nock(API, { reqheaders: { authorization: `token ${token}` } })
    .get("/search/issues")
    .query((query) => ((seen.q = String(query.q)), (seen.per_page = String(query.per_page)), true))
    .reply(200, { total_count: items.length, incomplete_results: false, items });
  return seen;
}

describe("search_issues", () => {
  useNock();

  it("searches the own repository's open issues by default, and shows them framed as untrusted", async () => {
    const seen = search([issueJson(3, { title: "Crash on save", labels: [{ name: "bug" }], assignees: [{ login: "alice" }], comments: 2 })]);
    const result = await call(searchIssuesTool(githubRun()), {});
    expect(seen.q).toBe("repo:acme/app is:issue state:open");
    expect(result.isError).toBeUndefined();
    expect(result.output).toContain("1 found in acme/app");
    expect(result.output).toContain('<untrusted source="issues of acme/app">\n#3 (issue, open) Crash on save · labels: bug · assignees: alice · by octocat · 2 comments · updated 2026-11-20T10:00:00Z\n</untrusted>');
  });

  it("builds the query from its inputs, and reads another repository of the run with that repository's token", async () => {
    const seen = search([], READ_TOKEN);
    const result = await call(searchIssuesTool(githubRun()), { query: "crash no:assignee", state: "all", labels: ["bug", "needs triage"], type: "pr", repository: "acme/lib", limit: 5 });
    expect(seen).toEqual({ q: 'repo:acme/lib is:pr label:"bug" label:"needs triage" crash no:assignee', per_page: "5" });
    expect(result.output).toBe('0 found in acme/lib for `repo:acme/lib is:pr label:"bug" label:"needs triage" crash no:assignee`.');
  });

  it("refuses a repository outside the run, naming the run's repositories", async () => {
    expect(await call(searchIssuesTool(githubRun()), { repository: "acme/secret" })).toEqual({
      output: "search_issues failed: acme/secret is not one of this run's repositories (acme/app, acme/lib, acme/docs)",
      isError: true,
    });
  });

  it("refuses a query that names where to search or could lift the repository qualifier off part of it", async () => {
    for (const query of ["repo:evil/secret", "crash -repo:acme/app", "org:evil", "USER:someone", 'bug "repo:x/y"', "owner:evil", "x OR is:pr", "(crash)", "a NOT b"]) {
      const result = await call(searchIssuesTool(githubRun()), { query });
      expect(result.isError, query).toBe(true);
      expect(result.output, query).toMatch(/^search_issues failed: the query may not/);
    }
    expect(queryProblem("crash label:bug author:alice in:title created:>2026-01-01 repository-wide or and")).toBeUndefined();
  });

  it("redacts secrets from the query it sends", async () => {
    const seen = search([]);
    await call(searchIssuesTool(githubRun()), { query: `leak ${TOKEN}` });
    expect(seen.q).toBe("repo:acme/app is:issue state:open leak [REDACTED]");
  });
});
