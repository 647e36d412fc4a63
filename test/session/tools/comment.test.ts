import nock from "nock";
import { describe, expect, it } from "vitest";
import { commentTool } from "../../../src/session/tools/comment.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun, SECRET, WRITE_TOKEN } from "./github-run.js";

describe("comment", () => {
  useNock();

  it("comments on the run's own issue by default, and on any issue of a repository the run may write to", async () => {
    nock(API).post("/repos/acme/app/issues/9/comments", { body: "Seen [REDACTED]" }).reply(201, { html_url: "https://github.com/acme/app/issues/9#c1" });
    expect((await call(commentTool(githubRun()), { body: `Seen ${SECRET}` })).output).toBe("Posted https://github.com/acme/app/issues/9#c1");
    nock(API).post("/repos/acme/app/issues/12/comments").reply(201, { html_url: "https://github.com/acme/app/issues/12#c2" });
    expect((await call(commentTool(githubRun()), { body: "Hi", number: 12 })).output).toBe("Posted https://github.com/acme/app/issues/12#c2");
    nock(API, { reqheaders: { authorization: `token ${WRITE_TOKEN}` } })
      .post("/repos/acme/docs/issues/3/comments")
      .reply(201, { html_url: "https://github.com/acme/docs/issues/3#c3" });
    expect((await call(commentTool(githubRun()), { body: "Hi", number: 3, repository: "acme/docs" })).output).toBe("Posted https://github.com/acme/docs/issues/3#c3");
  });

  it("refuses a repository outside the run, one shared read-only, and another repository without a number", async () => {
    const tool = commentTool(githubRun());
    expect((await call(tool, { body: "x", number: 1, repository: "evil/secret" })).output).toBe("comment failed: evil/secret is not one of this run's repositories (acme/app, acme/lib, acme/docs)");
    expect((await call(tool, { body: "x", number: 1, repository: "acme/lib" })).output).toBe(
      "comment failed: acme/lib is read-only in this run: it shares itself with acme/app for reading only, so nothing is pushed or posted to it",
    );
    expect((await call(tool, { body: "x", repository: "acme/docs" })).output).toBe("comment failed: give the number of the issue or pull request of acme/docs to comment on");
  });

  it("in a fork's run takes only a body, and posts on the run's own pull request", async () => {
    const tool = commentTool(githubRun({ pullRequest: { number: 5, headSha: "abc", headRef: "f", baseRef: "main", title: "T", author: "someone" } }), { ownOnly: true });
    expect(Object.keys((tool.inputSchema as { properties: object }).properties)).toEqual(["body"]);
    nock(API).post("/repos/acme/app/issues/5/comments").reply(201, { html_url: "u" });
    // An extra number is dropped by the schema, never followed.
    expect((await call(tool, { body: "Hi", number: 77 })).output).toBe("Posted u");
  });
});
