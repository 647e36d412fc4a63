import nock from "nock";
import { describe, expect, it } from "vitest";
import { assignTool } from "../../../src/session/tools/assign.js";
import { API, useNock } from "../../support/github.js";
import { call, githubRun } from "./github-run.js";

describe("assign", () => {
  useNock();

  it("assigns, and says whom GitHub left out", async () => {
    nock(API)
      .post("/repos/acme/app/issues/4/assignees", { assignees: ["alice", "mallory"] })
      .reply(201, { number: 4, assignees: [{ login: "alice" }] });
    expect((await call(assignTool(githubRun()), { number: 4, assignees: ["alice", "mallory"] })).output).toBe("acme/app#4 is assigned to alice; GitHub did not assign mallory (not a collaborator of acme/app?)");
  });

  it("says when the issue does not exist", async () => {
    nock(API).post("/repos/acme/app/issues/404/assignees").reply(404, { message: "Not Found" });
    expect((await call(assignTool(githubRun()), { number: 404, assignees: ["alice"] })).output).toBe("assign failed: acme/app#404 does not exist");
  });
});
