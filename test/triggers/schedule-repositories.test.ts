import nock from "nock";
import { describe, expect, it } from "vitest";
import { receive, testApp } from "../support/app.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, useNock, webhookExample } from "../support/github.js";

const scheduled = (name: string) => `version: 1\nroutines:\n  ${name}:\n    prompt: P.\n    triggers:\n      - schedule: { preset: daily, time: "09:00" }\n`;
const contentsOf = (owner: string, repo: string) => new RegExp(`^/repos/${owner}/${repo}/contents/\\.claude(%2F|/)routines\\.yml`);

describe("keeping schedules current", () => {
  useNock();

  it("registers every repository of every installation when the app loads; one that fails does not stop the others", async () => {
    nock(API).get("/app/installations").query(true).reply(200, [{ id: 1, suspended_at: null }, { id: 2, suspended_at: "2026-01-01T00:00:00Z" }]);
    nockInstallationToken(1);
    nock(API)
      .get("/installation/repositories")
      .query(true)
      .reply(200, { total_count: 3, repositories: ["app", "docs", "broken"].map((name) => ({ name, owner: { login: "acme" } })) });
    nock(API).get(contentsOf("acme", "app")).reply(200, contentsReply(scheduled("nightly")));
    nock(API).get(contentsOf("acme", "docs")).reply(404, { message: "Not Found" });
    nock(API).get(contentsOf("acme", "broken")).reply(500, { message: "Server Error" });
    const { scheduler, loaded } = testApp({}, { withScheduler: true });
    await loaded;
    await until(() => nock.pendingMocks().length === 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(scheduler?.repositories).toEqual(["acme/app"]);
    scheduler?.stop();
  });

  it("follows installations and their repositories as they change", async () => {
    nock(API).get("/app/installations").query(true).reply(200, []);
    const { probot, scheduler, loaded } = testApp({}, { withScheduler: true });
    await loaded;

    const added = webhookExample("installation_repositories");
    added.action = "added";
    added.repositories_added = [{ full_name: "Codertocat/Hello-World", name: "Hello-World" }];
    added.repositories_removed = [];
    nockInstallationToken(added.installation.id);
    nock(API).get(CONTENTS_PATH).reply(200, contentsReply(scheduled("nightly")));
    await receive(probot, "installation_repositories", added);
    expect(scheduler?.repositories).toEqual(["codertocat/hello-world"]);

    const removed = { ...added, action: "removed", repositories_added: [], repositories_removed: added.repositories_added };
    await receive(probot, "installation_repositories", removed);
    expect(scheduler?.repositories).toEqual([]);

    await receive(probot, "installation_repositories", added);
    expect(scheduler?.repositories).toEqual(["codertocat/hello-world"]);
    const deleted = webhookExample("installation", "deleted");
    deleted.installation.id = added.installation.id;
    await receive(probot, "installation", deleted);
    expect(scheduler?.repositories).toEqual([]);
    scheduler?.stop();
  });

  it("reads a repository's schedules again after a push to the default branch that touches .claude/", async () => {
    nock(API).get("/app/installations").query(true).reply(200, []);
    const { probot, scheduler, loaded } = testApp({}, { withScheduler: true });
    await loaded;
    const push = webhookExample("push");
    Object.assign(push, { ref: "refs/heads/master", before: "a".repeat(40), created: false, deleted: false, forced: false });
    push.commits = [{ ...push.commits[0], added: [], removed: [], modified: [".claude/prompts/nightly.md"] }];
    nockInstallationToken(push.installation.id);
    nock(API).get(CONTENTS_PATH).reply(200, contentsReply(scheduled("nightly")));
    await receive(probot, "push", push);
    expect(scheduler?.repositories).toEqual(["codertocat/hello-world"]);

    nock(API).get(CONTENTS_PATH).reply(404, { message: "Not Found" });
    await receive(probot, "push", push);
    expect(scheduler?.repositories).toEqual([]);
  });
});

async function until(condition: () => boolean) {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}
