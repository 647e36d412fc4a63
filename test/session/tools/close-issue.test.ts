import nock from "nock";
import { describe, expect, it } from "vitest";
import { closeIssueTool, reopenIssueTool } from "../../../src/session/tools/close-issue.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun } from "./github-run.js";

describe("close_issue and reopen_issue", () => {
  useNock();

  it("close with a reason after the comment, and reopen", async () => {
    const order: string[] = [];
    nock(API)
      .post("/repos/acme/app/issues/4/comments", (body) => (order.push(`comment ${body.body}`), true))
      .reply(201, { html_url: "c" });
    nock(API)
      .patch("/repos/acme/app/issues/4", (body) => (order.push(`update ${body.state} ${body.state_reason}`), true))
      .reply(200, { state_reason: "not_planned", html_url: "https://github.com/acme/app/issues/4" });
    expect((await call(closeIssueTool(githubRun()), { number: 4, reason: "not_planned", comment: "Duplicate of #3" })).output).toBe(
      "Closed acme/app#4 as not_planned, with a comment: https://github.com/acme/app/issues/4",
    );
    expect(order).toEqual(["comment Duplicate of #3", "update closed not_planned"]);
    nock(API).patch("/repos/acme/app/issues/4", { state: "open", state_reason: "reopened" }).reply(200, { html_url: "u" });
    expect((await call(reopenIssueTool(githubRun()), { number: 4 })).output).toBe("Reopened acme/app#4: u");
  });

  it("closes as completed by default, and counts a close with a comment as two writes, sending neither when only one is left", async () => {
    const run = githubRun({}, 2);
    nock(API).patch("/repos/acme/app/issues/4", { state: "closed", state_reason: "completed" }).reply(200, { state_reason: "completed", html_url: "u" });
    expect((await call(closeIssueTool(run), { number: 4 })).output).toBe("Closed acme/app#4 as completed: u");
    expect(await call(closeIssueTool(run), { number: 5, comment: "Done" })).toEqual({
      output: "close_issue failed: this run has 1 of its 2 GitHub writes left and closing acme/app#5 with a comment needs 2 (max_github_writes), so closing acme/app#5 with a comment was not sent; finish without it and say in your outcome what is left to do",
      isError: true,
    });
  });
});
