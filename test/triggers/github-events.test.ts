import nock from "nock";
import { describe, expect, it } from "vitest";
import { receive, testApp } from "../support/app.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, useNock, webhookExample, webhookExampleWhere } from "../support/github.js";

const ROUTINES = `version: 1
routines:
  review:
    prompt: Review.
    triggers:
      - github:
          event: pull_request
          filters: { base_branch: master, author: "!dependabot[bot]" }
      - github: { event: pull_request, filters: { labels: bug } }
  labelled:
    prompt: Look at the labels.
    triggers:
      - github: { event: pull_request, filters: { labels: { all: [bug] } } }
  forks-too:
    prompt: Welcome contributors.
    triggers:
      - github: { event: pull_request, forks: true, filters: { author: "*[bot]" } }
  notes:
    prompt: Write release notes.
    triggers:
      - github: { event: release, actions: [published], filters: { tag: "0.*" } }
`;

/** The default branch's routines, read once per test (a second read fails the test). */
const defaultBranch = (text = ROUTINES) => nock(API).get(CONTENTS_PATH).query((query) => query.ref === undefined).once().reply(200, contentsReply(text, "config-sha"));

const pullRequest = (change: (payload: any) => void = () => undefined) => { // example payloads are loosely typed
  const payload = webhookExample("pull_request", "opened");
  change(payload);
  return payload;
};

describe("pull_request and release events", () => {
  useNock(() => nockInstallationToken(1));

  it("admits one queued run per routine the event fires, with what the session needs", async () => {
    const { probot, admission, store } = testApp();
    defaultBranch();
    // The app's config check also looks at the pull request's files.
    nock(API).get("/repos/Codertocat/Hello-World/pulls/2/files").query(true).reply(200, []);
    await receive(probot, "pull_request", pullRequest(), "delivery-1");

    expect(admission.results.map((result) => result.status)).toEqual(["queued", "queued"]);
    const runs = await Promise.all(admission.results.map((result) => (result.status === "queued" ? store.getRun(result.run.id) : undefined)));
    expect(runs.map((run) => run?.routine)).toEqual(["review", "labelled"]);
    expect(runs[0]).toMatchObject({
      id: expect.stringMatching(/^run_[0-9a-f]{20}$/),
      status: "queued",
      repository: { owner: "Codertocat", repo: "Hello-World" },
      installationId: 1,
      configSha: "config-sha",
      trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId: "delivery-1", sender: "Codertocat" },
      context: {
        pullRequest: { number: 2, headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", headRef: "changes", baseRef: "master", title: "Update the README with new information.", author: "Codertocat" },
        withoutSecrets: false,
      },
    });
  });

  it("starts one run from a redelivered event", async () => {
    const { probot, admission } = testApp();
    defaultBranch();
    const payload = pullRequest((p) => (p.action = "ready_for_review"));
    await receive(probot, "pull_request", payload, "same-delivery");
    await receive(probot, "pull_request", payload, "same-delivery");
    expect(admission.results.map((result) => result.status)).toEqual(["queued", "queued", "duplicate", "duplicate"]);
    const [first, second] = admission.results;
    expect(admission.results[2]).toEqual({ status: "duplicate", runId: first?.status === "queued" ? first.run.id : "" });
    expect(admission.results[3]).toEqual({ status: "duplicate", runId: second?.status === "queued" ? second.run.id : "" });
  });

  it("reads the default branch's routines once for many events, and calls GitHub for none that fire nothing", async () => {
    const { probot, admission } = testApp();
    defaultBranch();
    for (const action of ["labeled", "unlabeled", "assigned", "closed"]) {
      await receive(probot, "pull_request", webhookExample("pull_request", action));
    }
    expect(admission.results).toEqual([]);
  });

  it("gives fork pull requests no secrets, and fires for them only where allowed", async () => {
    const { probot, admission } = testApp();
    defaultBranch();
    const payload = pullRequest((p) => {
      p.action = "ready_for_review";
      p.pull_request.head.repo.full_name = "someone/Hello-World";
      p.pull_request.user.login = "renovate[bot]";
      p.sender = { ...p.sender, login: "renovate[bot]", type: "Bot" };
    });
    nock(API).get("/app").reply(200, { slug: "routines-test" });
    await receive(probot, "pull_request", payload);
    expect(admission.results).toHaveLength(1);
    expect(admission.results[0]).toMatchObject({
      status: "queued",
      run: { routine: "forks-too", context: { withoutSecrets: true, pullRequest: { fork: "someone/Hello-World", author: "renovate[bot]" } } },
    });
  });

  it("never fires for events the app caused itself", async () => {
    const { probot, admission } = testApp();
    defaultBranch();
    nock(API).get("/app").once().reply(200, { slug: "routines-test" });
    const payload = pullRequest((p) => {
      p.action = "ready_for_review";
      p.sender = { ...p.sender, login: "routines-test[bot]", type: "Bot" };
    });
    await receive(probot, "pull_request", payload);
    await receive(probot, "pull_request", payload);
    expect(admission.results).toEqual([]);
  });

  it("fires release triggers with the release's details", async () => {
    const { probot, admission } = testApp();
    defaultBranch();
    const payload = webhookExample("release", "created");
    payload.action = "published";
    await receive(probot, "release", payload);
    expect(admission.results).toEqual([
      expect.objectContaining({
        status: "queued",
        run: expect.objectContaining({
          routine: "notes",
          trigger: expect.objectContaining({ kind: "github", event: "release", action: "published" }),
          context: { release: { tag: "0.0.1", name: "", body: "", targetBranch: "master" }, withoutSecrets: false, requiredSecrets: [] },
        }),
      }),
    ]);
  });

  it("rejects runs past the hourly caps and records why", async () => {
    const { probot, admission, store } = testApp({ hourlyRunsPerRoutine: 2, hourlyRunsPerInstallation: 3 });
    defaultBranch();
    const payload = pullRequest((p) => (p.action = "ready_for_review"));
    for (let i = 0; i < 3; i++) await receive(probot, "pull_request", payload);

    const statuses = admission.results.map((result) => (result.status === "duplicate" ? "duplicate" : `${result.run.routine}:${result.status}`));
    expect(statuses).toEqual(["review:queued", "labelled:queued", "review:queued", "labelled:rejected", "review:rejected", "labelled:rejected"]);
    const rejected = admission.results[4]!;
    expect(rejected.status === "rejected" && (await store.getRun(rejected.run.id))).toMatchObject({
      status: "rejected",
      reason: "hourly cap reached: 2 webhook-started runs of review in Codertocat/Hello-World in the last hour (limit 2, ROUTINES_HOURLY_RUNS_PER_ROUTINE)",
    });
    const installationCapped = admission.results[3]!;
    expect(installationCapped.status === "rejected" && installationCapped.reason).toBe(
      "hourly cap reached: 3 webhook-started runs in this installation in the last hour (limit 3, ROUTINES_HOURLY_RUNS_PER_INSTALLATION)",
    );
  });

  it("runs nothing in a repository without routines, and does not ask again", async () => {
    const { probot, admission } = testApp();
    nock(API).get(CONTENTS_PATH).once().reply(404, { message: "Not Found" });
    await receive(probot, "pull_request", pullRequest((p) => (p.action = "ready_for_review")));
    await receive(probot, "release", webhookExample("release", "created"));
    expect(admission.results).toEqual([]);
  });
});

const NEW_EVENTS = `version: 1
routines:
  triage:
    prompt: Triage.
    triggers:
      - github: { event: issues, actions: [opened, labeled], filters: { labels: bug } }
  verify:
    prompt: Verify the deploy.
    triggers:
      - github: { event: workflow_run, filters: { workflow: test, conclusion: success } }
      - github: { event: deployment_status, filters: { environment: production, state: success } }
`;

/** GitHub's example of the event, in Codertocat/Hello-World and installation 1, as the app receives it. */
function installed(event: string, action: string, pick?: (payload: any) => boolean): any { // example payloads are loosely typed
  const payload = webhookExampleWhere(event, action, pick);
  const repository = webhookExample("pull_request", "opened").repository;
  payload.installation = { id: 1, node_id: "I_1" };
  payload.repository = repository;
  if (payload.workflow_run) payload.workflow_run.head_repository = repository;
  return payload;
}

describe("issues, workflow_run and deployment_status events", () => {
  useNock(() => nockInstallationToken(1));

  it("admits a run for a matching issue, with the issue for the session", async () => {
    const { probot, admission } = testApp();
    defaultBranch(NEW_EVENTS);
    const payload = installed("issues", "opened", (candidate) => candidate.issue.body !== null);
    await receive(probot, "issues", payload, "issue-delivery");
    expect(admission.results).toEqual([
      expect.objectContaining({
        status: "queued",
        run: expect.objectContaining({
          routine: "triage",
          trigger: { kind: "github", index: 0, event: "issues", action: "opened", deliveryId: "issue-delivery", sender: "Codertocat" },
          context: {
            issue: { number: 1, title: "Spelling error in the README file", body: payload.issue.body, author: "Codertocat", labels: ["bug"], url: "https://github.com/Codertocat/Hello-World/issues/1" },
            withoutSecrets: false,
            requiredSecrets: [],
          },
        }),
      }),
    ]);
    // The same delivery again is the same run.
    await receive(probot, "issues", payload, "issue-delivery");
    expect(admission.results[1]).toEqual({ status: "duplicate", runId: (admission.results[0] as { run: { id: string } }).run.id });
  });

  it("admits a run for a successful workflow run, with its commit, and none for a fork's or the app's own", async () => {
    const { probot, admission } = testApp();
    defaultBranch(NEW_EVENTS);
    nock(API).get("/app").once().reply(200, { slug: "routines-test" });
    const completed = () => installed("workflow_run", "completed", (candidate) => candidate.workflow_run.conclusion === "success" && candidate.workflow_run.pull_requests.length > 0);
    const fork = completed();
    fork.workflow_run.head_repository = { ...fork.workflow_run.head_repository, full_name: "mallory/Hello-World" };
    await receive(probot, "workflow_run", fork);
    const own = completed();
    own.sender = { ...own.sender, login: "routines-test[bot]", type: "Bot" };
    await receive(probot, "workflow_run", own);
    expect(admission.results).toEqual([]);

    await receive(probot, "workflow_run", completed(), "workflow-delivery");
    expect(admission.results).toEqual([
      expect.objectContaining({
        status: "queued",
        run: expect.objectContaining({
          routine: "verify",
          trigger: expect.objectContaining({ event: "workflow_run", action: "completed", index: 0 }),
          context: {
            workflowRun: expect.objectContaining({ workflow: "test", conclusion: "success", headSha: "3484a3fb816e0859fd6e1cea078d76385ff50625", headBranch: "master", pullRequests: [2] }),
            withoutSecrets: false,
            requiredSecrets: [],
          },
        }),
      }),
    ]);
  });

  it("admits a run for a successful production deployment, with its commit and environment", async () => {
    const { probot, admission } = testApp();
    defaultBranch(NEW_EVENTS);
    await receive(probot, "deployment_status", installed("deployment_status", "created", (candidate) => candidate.deployment_status.state === "in_progress"));
    expect(admission.results).toEqual([]);
    await receive(probot, "deployment_status", installed("deployment_status", "created", (candidate) => candidate.deployment_status.state === "success"));
    expect(admission.results).toEqual([
      expect.objectContaining({
        status: "queued",
        run: expect.objectContaining({
          routine: "verify",
          trigger: expect.objectContaining({ event: "deployment_status", action: "created", index: 1 }),
          context: {
            deployment: { id: 145988746, environment: "production", state: "success", sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", ref: "master" },
            withoutSecrets: false,
            requiredSecrets: [],
          },
        }),
      }),
    ]);
  });
});
