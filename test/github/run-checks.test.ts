import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { CheckOutbox, checkRunsApi } from "../../src/github/check-outbox.js";
import { CheckRunPublisher, conclusionOf } from "../../src/github/run-checks.js";
import type { RunRequest } from "../../src/run-request.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { RunRecord } from "../../src/runs/store.js";
import { WorkerPool } from "../../src/runs/worker-pool.js";
import { receive, testApp } from "../support/app.js";
import { API, nockInstallationToken, testProbot, useNock, webhookExample } from "../support/github.js";

const REPO = "/repos/acme/app";
const limits = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 100 };
let delivery = 0;
const request = (pr = 7, headSha = "abc123"): RunRequest => ({
  routine: "review",
  repository: { owner: "acme", repo: "app" },
  installationId: 1,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${++delivery}`, sender: "octocat" },
  context: { withoutSecrets: false, pullRequest: { number: pr, headSha, headRef: "feature", baseRef: "main", title: "T", author: "octocat" } },
});

/** Expects a check-run request and hands back its body. */
const expectCheck = (method: "post" | "patch", path: string, id = 55) =>
  new Promise<any>((resolve) => { // the check run as sent to GitHub
    nock(API)[method](path, (body: unknown) => (resolve(body), true)).reply(method === "post" ? 201 : 200, { id });
  });

const outboxes: CheckOutbox[] = [];
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
});

function engine(options: { hourlyRunsPerRoutine?: number } = {}) {
  const store = new SqliteStore(":memory:");
  const probot = testProbot();
  const errors: unknown[] = [];
  const outbox = new CheckOutbox(store, checkRunsApi((id) => probot.auth(id)), { pollMs: 50, onError: (error) => errors.push(error) });
  outboxes.push(outbox);
  outbox.start();
  const checks = new CheckRunPublisher(store, (id) => `https://routines.example.test/dashboard/runs/${id}`, () => outbox.wake());
  const admission = new StoreAdmission(store, { ...limits, ...options }, { observer: checks, onError: (error) => errors.push(error) });
  return { store, admission, checks, outbox, errors };
}

describe("check runs", () => {
  useNock(() => nockInstallationToken(1));

  it("follow a run from queued through in progress to its conclusion, with the summary and token usage", async () => {
    const { store, admission, checks, outbox, errors } = engine();
    const created = expectCheck("post", `${REPO}/check-runs`);
    const result = await admission.admit(request());
    const runId = result.status === "queued" ? result.run.id : "";
    expect(await created).toEqual({
      name: "routines/review",
      head_sha: "abc123",
      external_id: runId,
      details_url: `https://routines.example.test/dashboard/runs/${runId}`,
      status: "queued",
      output: { title: "Queued", summary: `Run \`${runId}\` is waiting for a worker.` },
    });
    await outbox.idle();
    expect((await store.getRun(runId))?.checkRunId).toBe(55);

    const started = expectCheck("patch", `${REPO}/check-runs/55`);
    const finished = expectCheck("patch", `${REPO}/check-runs/55`);
    const pool = new WorkerPool(
      store,
      // The session ends once its check shows it running (else the two states would be sent as one).
      {
        execute: async (_run, context) => {
          await started;
          // Each model call's cost reaches the run's as it comes.
          await context.spent?.(0.004);
          await context.spent?.(0.0015);
          return { outcome: "succeeded", summary: "Two comments posted.", usage: { inputTokens: 10, cacheReadTokens: 2000, cacheWriteTokens: 300, outputTokens: 45 } };
        },
      },
      { concurrency: 1, observer: checks },
    );
    await pool.start();
    expect(await started).toMatchObject({ status: "in_progress", output: { title: "Running" } });
    const done = await finished;
    await pool.stop();
    expect(done).toMatchObject({ status: "completed", conclusion: "success", output: { title: "Succeeded" } });
    expect(done.output.summary).toContain("Two comments posted.\n\n| input | cache read | cache write | output | cost |\n| --- | --- | --- | --- | --- |\n| 10 | 2,000 | 300 | 45 | $0.0055 |");
    expect(errors).toEqual([]);
  });

  it("say why a capped run was not started, as a check that needs action rather than one that passes", async () => {
    const { admission } = engine({ hourlyRunsPerRoutine: 1 });
    const first = expectCheck("post", `${REPO}/check-runs`, 60);
    await admission.admit(request(8, "sha-1"));
    await first;
    const skipped = expectCheck("post", `${REPO}/check-runs`, 61);
    await admission.admit(request(8, "sha-2"));
    expect(await skipped).toMatchObject({
      name: "routines/review",
      head_sha: "sha-2",
      status: "completed",
      conclusion: "action_required",
      output: { title: expect.stringMatching(/^Not started: hourly cap reached: 1 webhook-started runs of review/) },
    });
  });

  it("close the check of a run that a newer one superseded", async () => {
    const { admission } = engine();
    const first = expectCheck("post", `${REPO}/check-runs`, 70);
    await admission.admit(request(9, "sha-1"));
    await first;
    const cancelled = expectCheck("patch", `${REPO}/check-runs/70`);
    const second = expectCheck("post", `${REPO}/check-runs`, 71);
    const result = await admission.admit(request(9, "sha-2"));
    expect(await second).toMatchObject({ head_sha: "sha-2", status: "queued" });
    expect(await cancelled).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: `Cancelled: superseded by ${result.status === "queued" ? result.run.id : ""}` } });
  });
});

describe("conclusionOf", () => {
  const run = (fields: Partial<RunRecord>): RunRecord => ({ ...request(), id: "run_1", status: "completed", createdAt: new Date(), ...fields });
  it.each([
    [{ outcome: "succeeded" }, "success", "Succeeded"],
    [{ outcome: "failed" }, "failure", "The routine reported failure"],
    [{ outcome: "unknown", stopReason: "end_turn" }, "neutral", "Finished without reporting an outcome"],
    [{ outcome: "unknown", stopReason: "max_turns", reason: "the session used all 60 turns" }, "failure", "Stopped: the session used all 60 turns"],
    [{ outcome: "unknown", stopReason: "timeout", reason: "the run went on longer than its timeout of 20m" }, "failure", "Stopped: the run went on longer than its timeout of 20m"],
    [
      { outcome: "unknown", stopReason: "budget", reason: "stopped at the budget of $5.00: $4.31 spent, and the next model call could cost up to $0.86" },
      "failure",
      "Stopped at the budget of $5.00: $4.31 spent, and the next model call could cost up to $0.86",
    ],
    [{ outcome: "unknown", stopReason: "refusal", reason: "the model declined to continue (refusal)" }, "failure", "Stopped: the model declined to continue (refusal)"],
    [{ status: "errored", stopReason: "model_error", reason: "the model API failed: 401 invalid x-api-key" }, "failure", "Errored: the model API failed: 401 invalid x-api-key"],
    [{ status: "interrupted", reason: "interrupted: the server was stopped (SIGTERM); it had already published to GitHub, so it was not run again" }, "failure", "Interrupted: the server was stopped (SIGTERM); it had already published to GitHub, so it was not run again"],
    [{ status: "cancelled", reason: "cancelled by a user" }, "cancelled", "Cancelled: cancelled by a user"],
    [{ status: "rejected", reason: "routines are disabled for this installation (kill switch)" }, "action_required", "Not started: routines are disabled for this installation (kill switch)"],
    // A failed script's output stays out of the title; the summary has it.
    [{ status: "errored", reason: "the setup script failed with exit code 3\nnpm ERR! something\nmore output" }, "failure", "Errored: the setup script failed with exit code 3"],
  ] as const)("%j → %s", (fields, conclusion, title) => {
    expect(conclusionOf(run(fields as Partial<RunRecord>))).toEqual({ conclusion, title });
  });
});

const deploy = (context: Partial<RunRequest["context"]>): RunRequest => ({
  routine: "verify",
  repository: { owner: "acme", repo: "app" },
  installationId: 1,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "deployment_status", action: "created", deliveryId: `d-${++delivery}`, sender: "octocat" },
  context: { withoutSecrets: false, ...context },
});

describe("check runs of runs without a pull request", () => {
  useNock(() => nockInstallationToken(1));

  it("go on the commit a workflow or deployment run checks out", async () => {
    const { admission } = engine();
    const onDeployment = expectCheck("post", `${REPO}/check-runs`, 70);
    await admission.admit(deploy({ deployment: { id: 1, environment: "production", state: "success", sha: "d".repeat(40), ref: "main" } }));
    expect(await onDeployment).toMatchObject({ name: "routines/verify", head_sha: "d".repeat(40), status: "queued" });
    const onWorkflowRun = expectCheck("post", `${REPO}/check-runs`, 71);
    await admission.admit(deploy({ workflowRun: { id: 2, workflow: "Deploy", event: "push", status: "completed", conclusion: "success", headSha: "e".repeat(40), headBranch: "main", url: "u", pullRequests: [] } }));
    expect(await onWorkflowRun).toMatchObject({ name: "routines/verify", head_sha: "e".repeat(40), status: "queued" });
  });
});

describe("issue runs", () => {
  // No GitHub request is expected: any would find no answer in nock and stay in the outbox.
  useNock();

  it("get no check run, having no commit of their own", async () => {
    const { admission, outbox, store } = engine();
    const result = await admission.admit(deploy({ issue: { number: 4, title: "T", body: "", author: "octocat", labels: [], url: "u" } }));
    await outbox.idle();
    expect(result.status).toBe("queued");
    expect(await store.pendingChecks(new Date(Date.now() + 86_400_000), 10)).toEqual([]);
    expect(result.status === "queued" && (await store.getRun(result.run.id))?.checkRunId).toBeUndefined();
  });
});

describe("the Re-run button", () => {
  useNock();

  it("starts a new run of the routine on the pull request's current head, with the first run's context", async () => {
    const { probot, store, admission, loaded } = testApp();
    await loaded;
    const first = await admission.admit({ ...request(), repository: { owner: "github", repo: "hello-world" } });
    const firstId = first.status === "queued" ? first.run.id : "";
    const payload = webhookExample("check_run", "rerequested");
    Object.assign(payload.check_run, { name: "routines/review", external_id: firstId });
    // The pull request moved on since the check's commit.
    const pull = webhookExample("pull_request", "opened").pull_request;
    nockInstallationToken(payload.installation.id);
    nock(API)
      .get("/repos/github/hello-world/pulls/7")
      .reply(200, { ...pull, number: 7, head: { ...pull.head, sha: "moved-on-sha" } });
    await receive(probot, "check_run", payload);
    const rerun = admission.results.at(-1);
    expect(rerun).toMatchObject({
      status: "queued",
      run: { routine: "review", context: { pullRequest: { number: 7, headSha: "moved-on-sha" } }, trigger: { kind: "github" } },
    });
    expect(rerun?.status === "queued" && rerun.run.id).not.toBe(firstId);
    expect((await store.getRun(firstId))?.status).toBe("cancelled");

    // Checks of other apps or unknown runs are left alone.
    payload.check_run.name = "lint";
    await receive(probot, "check_run", payload);
    expect(admission.results).toHaveLength(2);
  });

  it("runs a deployment's routine again on the same commit", async () => {
    const { probot, admission, loaded } = testApp();
    await loaded;
    const deployment = { id: 1, environment: "production", state: "success", sha: "d".repeat(40), ref: "main" };
    const first = await admission.admit({ ...deploy({ deployment }), repository: { owner: "github", repo: "hello-world" } });
    const payload = webhookExample("check_run", "rerequested");
    Object.assign(payload.check_run, { name: "routines/verify", external_id: first.status === "queued" ? first.run.id : "" });
    await receive(probot, "check_run", payload);
    expect(admission.results.at(-1)).toMatchObject({ status: "queued", run: { routine: "verify", context: { deployment }, trigger: { kind: "github", event: "deployment_status" } } });
  });
});
