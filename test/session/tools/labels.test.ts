import nock from "nock";
import { describe, expect, it } from "vitest";
import { addLabelsTool, removeLabelTool } from "../../../src/session/tools/labels.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun, WRITE_TOKEN } from "./github-run.js";

describe("add_labels and remove_label", () => {
  useNock();

  it("add labels and say what the issue has now", async () => {
    nock(API)
      .post("/repos/acme/app/issues/4/labels", { labels: ["bug", "p1"] })
      .reply(200, [{ name: "triage" }, { name: "bug" }, { name: "p1" }]);
    expect((await call(addLabelsTool(githubRun()), { number: 4, labels: ["bug", "p1"] })).output).toBe("acme/app#4 now has the labels: triage, bug, p1");
  });

  it("remove a label, in a repository shared for writing with its token, and say when it was not there", async () => {
    nock(API, { reqheaders: { authorization: `token ${WRITE_TOKEN}` } })
      .delete("/repos/acme/docs/issues/2/labels/needs%20triage")
      .reply(200, [{ name: "docs" }]);
    expect((await call(removeLabelTool(githubRun()), { number: 2, label: "needs triage", repository: "acme/docs" })).output).toBe("Removed needs triage from acme/docs#2; its labels: docs");
    nock(API).delete("/repos/acme/app/issues/2/labels/bug").reply(404, { message: "Label does not exist" });
    expect((await call(removeLabelTool(githubRun()), { number: 2, label: "bug" })).output).toBe("remove_label failed: acme/app#2 does not exist or has no label bug");
  });

  it("refuse a repository outside the run before asking GitHub", async () => {
    expect((await call(addLabelsTool(githubRun()), { number: 1, labels: ["x"], repository: "evil/app" })).output).toBe("add_labels failed: evil/app is not one of this run's repositories (acme/app, acme/lib, acme/docs)");
  });
});
