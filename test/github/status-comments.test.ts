import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { StatusCommentOutbox, statusCommentsApi, type StatusCommentsApi } from "../../src/github/status-comment-outbox.js";
import { statusMarker } from "../../src/github/status-comment-text.js";
import { postedAnything, StatusCommentPublisher } from "../../src/github/status-comments.js";
import type { RunRequest } from "../../src/run-request.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { PendingStatusComment, RunRecord, TranscriptEvent } from "../../src/runs/store.js";
import { createRedactor } from "../../src/session/redact.js";
import { API, nockInstallationToken, testProbot, useNock } from "../support/github.js";

const limits = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 100 };
const KEY = "acme/app#7:review";
let delivery = 0;
const request = (context: Partial<RunRequest["context"]> = {}): RunRequest => ({
  routine: "review",
  repository: { owner: "acme", repo: "app" },
  installationId: 1,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "synchronize", deliveryId: `d-${++delivery}`, sender: "octocat" },
  context: { withoutSecrets: false, pullRequest: { number: 7, headSha: "abc1234def", headRef: "feature", baseRef: "main", title: "T", author: "octocat" }, ...context },
});

/** GitHub's comments as a list the test reads: who wrote them, and every edit. */
class FakeComments implements StatusCommentsApi {
  readonly comments: Array<{ id: number; body: string; user: string; edits: number }> = [];
  failNext = 0;
  #next = 100;
  async create(comment: PendingStatusComment): Promise<number> {
    this.#fail();
    const id = this.#next++;
    this.comments.push({ id, body: comment.body, user: "app[bot]", edits: 0 });
    return id;
  }
  async update(comment: PendingStatusComment, commentId: number): Promise<void> {
    this.#fail();
    const found = this.comments.find((c) => c.id === commentId);
    if (!found) throw Object.assign(new Error("Not Found"), { status: 404 });
    found.body = comment.body;
    found.edits++;
  }
  async find(_: PendingStatusComment, marker: string): Promise<number | undefined> {
    return this.comments.find((c) => c.user === "app[bot]" && c.body.includes(marker))?.id;
  }
  #fail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error("Server Error"), { status: 502 });
    }
  }
}

const outboxes: StatusCommentOutbox[] = [];
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
});

function engine(options: { now?: () => Date; redact?: (text: string) => string } = {}) {
  const store = new SqliteStore(":memory:");
  const api = new FakeComments();
  const errors: unknown[] = [];
  const outbox = new StatusCommentOutbox(store, api, { pollMs: 20, backoffMs: () => 10, onError: (error) => errors.push(error) });
  outboxes.push(outbox);
  const publisher = new StatusCommentPublisher(store, {
    runUrl: (id) => `https://routines.example.test/dashboard/runs/${id}`,
    onRecorded: () => outbox.wake(),
    ...(options.now ? { clock: options.now } : {}),
    ...(options.redact ? { redact: options.redact as never } : {}),
  });
  const admission = new StoreAdmission(store, limits, { observer: publisher, onError: (error) => errors.push(error) });
  return { store, api, outbox, publisher, admission, errors };
}

/** A worker's claim that outlasts the tests. */
const LEASE = { owner: "worker", expiresAt: new Date("2100-01-01T00:00:00Z") };

/** Starts the oldest queued run as the worker pool would, and tells the publisher. */
async function start(store: SqliteStore, publisher: StatusCommentPublisher): Promise<RunRecord> {
  const run = (await store.claimNextRun(new Date(), LEASE))!;
  await publisher.started(run);
  return run;
}

async function finish(store: SqliteStore, publisher: StatusCommentPublisher, run: RunRecord, patch: Parameters<SqliteStore["transition"]>[2]): Promise<void> {
  await store.transition(run.id, ["running"], { status: "completed", finishedAt: new Date(), ...patch });
  await publisher.finished((await store.getRun(run.id))!);
}

describe("status comments", () => {
  it("are one comment per pull request and routine, created when a run is admitted and edited to its end, and again by the next run", async () => {
    const { store, api, outbox, publisher, admission, errors } = engine();
    outbox.start();
    await admission.admit(request());
    await outbox.idle();
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]!.body).toMatch(/^⏳ \*\*`review`\*\* is queued on `abc1234`\./);
    expect(api.comments[0]!.body.endsWith(statusMarker(KEY))).toBe(true);

    const run = await start(store, publisher);
    await outbox.idle();
    expect(api.comments[0]!.body).toMatch(/^🔄 \*\*`review`\*\* is running/);
    await store.appendEvent(run.id, "tool_call", { id: "t1", name: "create_review", input: {} });
    await store.appendEvent(run.id, "tool_result", { id: "t1", name: "create_review", output: "posted", isError: false });
    await finish(store, publisher, run, { outcome: "succeeded", summary: "Two findings." });
    await outbox.idle();
    expect(api.comments[0]!.body).toMatch(/^✅ \*\*`review`\*\*: Succeeded on `abc1234`\.\n\nTwo findings\.\n\n<sub>cost \$0\.00 · took \d+(ms|s) · \[run `run_/);

    // The next run edits the same comment.
    await admission.admit(request());
    const second = await start(store, publisher);
    await finish(store, publisher, second, { outcome: "succeeded", summary: "All good." });
    await outbox.idle();
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]!.edits).toBeGreaterThanOrEqual(3);
    expect(api.comments[0]!.body).toContain("No problems found: the run posted no review or comment. All good.");
    expect(errors).toEqual([]);
  });

  it("count a review whose findings were all left out as nothing posted, and say in how many files nothing was found", async () => {
    const { store, api, outbox, publisher, admission } = engine();
    outbox.start();
    await admission.admit(request());
    const run = await start(store, publisher);
    await store.appendEvent(run.id, "tool_call", { id: "t1", name: "create_review", input: {} });
    await store.appendEvent(run.id, "tool_result", { id: "t1", name: "create_review", output: "Nothing new to post: every comment repeats an earlier finding.", isError: false, published: false });
    await store.appendEvent(run.id, "review_coverage", { total: 3, reviewed: 3, notReviewed: [], unlisted: 0, line: "Reviewed 3 of 3 files." });
    await finish(store, publisher, run, { outcome: "succeeded", summary: "Only repeats." });
    await outbox.idle();
    expect(api.comments[0]!.body).toContain("No problems found in 3 files: the run posted no review or comment. Only repeats.");
    expect(postedAnything([{ kind: "tool_result", data: { name: "create_review", isError: false } } as TranscriptEvent])).toBe(true);
    expect(postedAnything([{ kind: "tool_result", data: { name: "create_review", isError: false, published: false } } as TranscriptEvent])).toBe(false);
  });

  it("find the comment of an earlier store by its marker, only among the app's own, and make a new one when it was deleted", async () => {
    const { store, api, outbox, publisher, admission } = engine();
    // Someone pasted the marker: not the app's, never edited.
    api.comments.push({ id: 1, body: `copied ${statusMarker(KEY)}`, user: "mallory", edits: 0 });
    api.comments.push({ id: 2, body: `old status\n${statusMarker(KEY)}`, user: "app[bot]", edits: 0 });
    outbox.start();
    await admission.admit(request());
    await outbox.idle();
    expect(api.comments.map((c) => [c.id, c.edits])).toEqual([[1, 0], [2, 1]]);

    api.comments.splice(1, 1);
    await start(store, publisher);
    await outbox.idle();
    expect(api.comments.map((c) => c.user)).toEqual(["mallory", "app[bot]"]);
    expect(api.comments[1]!.body).toMatch(/is running/);
  });

  it("send only the newest text, and retry when GitHub fails", async () => {
    const { store, api, outbox, publisher, admission, errors } = engine();
    api.failNext = 2;
    await admission.admit(request());
    const run = await start(store, publisher);
    await finish(store, publisher, run, { outcome: "failed", summary: "Tests fail." });
    outbox.start();
    // The retries fall due 10 ms after each failure.
    for (let tries = 0; api.comments.length === 0 && tries < 200; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    await outbox.idle();
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]!.edits).toBe(0);
    expect(api.comments[0]!.body).toMatch(/^❌ \*\*`review`\*\*: The routine reported failure/);
    expect(errors).toHaveLength(2);
  });

  it("show a step at most once per interval", async () => {
    let now = new Date(0);
    const { store, publisher, admission } = engine({ now: () => now });
    await admission.admit(request());
    const run = await start(store, publisher);
    const turn = (n: number) => publisher.event(run.id, { seq: n, at: now, kind: "model_response", data: { turn: n } });
    const shown = async () => (await store.statusComment(KEY))!.body.split("\n")[0];
    now = new Date(5_000);
    await turn(1);
    expect(await shown()).toBe("🔄 **`review`** is running on `abc1234`.");
    now = new Date(16_000);
    await turn(2);
    expect(await shown()).toBe("🔄 **`review`** is running on `abc1234`: step 2.");
    now = new Date(20_000);
    await turn(3);
    expect(await shown()).toBe("🔄 **`review`** is running on `abc1234`: step 2.");
    now = new Date(31_000);
    await turn(4);
    expect(await shown()).toBe("🔄 **`review`** is running on `abc1234`: step 4.");
  });

  it("are not kept for routines that said no, nor for runs not on a pull request", async () => {
    const { store, publisher, admission } = engine();
    await admission.admit(request({ statusComment: false }));
    await admission.admit({ ...request({ pullRequest: undefined }), routine: "nightly" });
    for (let run = await store.claimNextRun(new Date(), LEASE); run; run = await store.claimNextRun(new Date(), LEASE)) {
      await publisher.started(run);
      await finish(store, publisher, run, { outcome: "succeeded" });
    }
    expect(await store.pendingStatusComments(new Date(), 10)).toEqual([]);
    expect(await store.statusComment(KEY)).toBeUndefined();
  });

  it("pass the server's redactor", async () => {
    const secret = `sk-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const redact = createRedactor([secret]);
    const { store, publisher, admission } = engine({ redact });
    await admission.admit(request());
    const run = await start(store, publisher);
    await finish(store, publisher, run, { outcome: "succeeded", summary: `The key is ${secret}.` });
    const { body } = (await store.statusComment(KEY))!;
    expect(body).toContain("The key is");
    expect(body).not.toContain(secret);
  });

  it("build on what another process recorded in between", async () => {
    const { store, admission } = engine();
    await admission.admit(request());
    const first = (await store.statusComment(KEY))!;
    expect(first.version).toBe(1);
    expect(await store.recordStatusComment({ ...first, body: "other" }, 1)).toBe(true);
    // A writer that read version 1 is refused, and nothing changes.
    expect(await store.recordStatusComment({ ...first, body: "stale" }, 1)).toBe(false);
    expect(await store.recordStatusComment({ ...first, body: "stale" }, 0)).toBe(false);
    expect((await store.statusComment(KEY))!).toMatchObject({ version: 2, body: "other" });
  });
});

describe("status comments on GitHub", () => {
  useNock(() => nockInstallationToken(1));
  const pending = (commentId?: number): PendingStatusComment => ({
    key: KEY,
    installationId: 1,
    repository: { owner: "acme", repo: "app" },
    issueNumber: 7,
    state: "{}",
    body: `status\n${statusMarker(KEY)}`,
    version: 1,
    attempts: 0,
    ...(commentId === undefined ? {} : { commentId }),
  });

  it("are found only among the app's own comments, then edited in place", async () => {
    const probot = testProbot();
    const api = statusCommentsApi((id) => probot.auth(id), async () => "routines[bot]");
    nock(API)
      .get("/repos/acme/app/issues/7/comments")
      .query(true)
      .reply(200, [
        { id: 1, body: `copied ${statusMarker(KEY)}`, user: { login: "mallory" } },
        { id: 2, body: "unrelated", user: { login: "routines[bot]" } },
        { id: 3, body: `old\n${statusMarker(KEY)}`, user: { login: "routines[bot]" } },
      ]);
    expect(await api.find(pending(), statusMarker(KEY))).toBe(3);
    const edited = new Promise<unknown>((resolve) => {
      nock(API).patch("/repos/acme/app/issues/comments/3", (body: unknown) => (resolve(body), true)).reply(200, { id: 3 });
    });
    await api.update(pending(3), 3);
    expect(await edited).toEqual({ body: `status\n${statusMarker(KEY)}` });
    nock(API).post("/repos/acme/app/issues/7/comments").reply(201, { id: 4 });
    expect(await api.create(pending())).toBe(4);
  });
});
