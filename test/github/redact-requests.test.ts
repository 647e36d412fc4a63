import nock from "nock";
import { describe, expect, it } from "vitest";
import { redactRequests } from "../../src/github/redact-requests.js";
import { createRedactor } from "../../src/session/redact.js";
import { API, TestOctokit, useNock } from "../support/github.js";

const SECRET = "webhook-secret-0123456789";

describe("requests to GitHub", () => {
  useNock();

  it("carry no secret, in any parameter of their body, and keep their route and types", async () => {
    const Octokit = TestOctokit.plugin(redactRequests(createRedactor([SECRET])));
    const octokit = new Octokit({ auth: "ghs_test" });
    let sent: unknown;
    nock(API)
      .post("/repos/acme/app/check-runs", (body) => ((sent = body), true))
      .reply(201, { id: 1 });
    await octokit.rest.checks.create({
      owner: "acme",
      repo: "app",
      name: "routines/review",
      head_sha: "abc",
      output: { title: `Errored: ${SECRET}`, summary: Buffer.from(SECRET).toString("base64"), annotations: [] },
    });
    expect(sent).toEqual({ name: "routines/review", head_sha: "abc", output: { title: "Errored: [REDACTED]", summary: "[REDACTED]", annotations: [] } });
  });
});
