import nock from "nock";
import { describe, expect, it } from "vitest";
import { createIssueTool } from "../../../src/session/tools/create-issue.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun, SECRET } from "./github-run.js";

describe("create_issue", () => {
  useNock();

  it("opens an issue with labels, redacted", async () => {
    nock(API)
      .post("/repos/acme/app/issues", { title: "Flaky test", body: "Seen with [REDACTED]", labels: ["ci"] })
      .reply(201, { number: 31, html_url: "https://github.com/acme/app/issues/31" });
    expect((await call(createIssueTool(githubRun()), { title: "Flaky test", body: `Seen with ${SECRET}`, labels: ["ci"] })).output).toBe("Opened acme/app#31: https://github.com/acme/app/issues/31");
  });

  it("prints in a dry run, and refuses a repository shared read-only", async () => {
    const printed: string[] = [];
    const run = githubRun({ dryRun: { print: (text) => printed.push(text) } });
    expect((await call(createIssueTool(run), { title: "T", body: "B" })).output).toBe("Dry run: the issue was printed, not opened.");
    expect(printed).toEqual(["[dry run] open an issue in acme/app: T\nB"]);
    expect((await call(createIssueTool(run), { title: "T", body: "B", repository: "acme/lib" })).output).toContain("acme/lib is read-only in this run");
  });
});
