// One suite, run against every store: SQLite (embedded) and PostgreSQL (a throwaway cluster the
// suite starts), so that the two keep the same contract.
import { describe, expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import type { CheckEntry, FindingRecord, RunRecord, RunStore } from "../../src/runs/store.js";
import { WorkerPool, type ExecutionContext, type RunExecutor, type RunResult } from "../../src/runs/worker-pool.js";
import { describeEachStore } from "../support/stores.js";

const request = (deliveryId: string, routine = "review", installationId = 7): RunRequest => ({
  routine,
  repository: { owner: "acme", repo: "app" },
  installationId,
  configSha: "sha",
  trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId, sender: "octocat" },
  context: { withoutSecrets: false },
});

const onPullRequest = (deliveryId: string, number: number, routine = "review", installationId = 7): RunRequest => ({
  ...request(deliveryId, routine, installationId),
  context: { withoutSecrets: false, pullRequest: { number, headSha: "abc", headRef: "feature", baseRef: "main", title: "A change", author: "octocat" } },
});

const run = (id: string, createdAt: Date, from: RunRequest = request(`d-${id}`)): RunRecord => ({ ...from, id, status: "queued", createdAt });

/** A lease that outlasts every test. */
const HELD = { owner: "worker-1", expiresAt: new Date("2100-01-01T00:00:00Z") };

const LIMITS = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 100 };

/** An executor whose runs go until the test finishes them, or until their signal aborts them. */
class HeldExecutor implements RunExecutor {
  readonly started: string[] = [];
  readonly aborted: string[] = [];
  readonly #finish = new Map<string, (result: RunResult) => void>();

  execute(run: RunRecord, context: ExecutionContext): Promise<RunResult> {
    this.started.push(run.id);
    return new Promise<RunResult>((resolve, reject) => {
      this.#finish.set(run.id, resolve);
      context.signal.addEventListener("abort", () => {
        this.aborted.push(run.id);
        reject(new Error("aborted"));
      });
      void context.record("started", { attempt: run.attempt ?? 1 });
    });
  }

  finish(runId: string): void {
    this.#finish.get(runId)?.({ outcome: "succeeded" });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The store as a process that hangs sees it: while hung, its lease renewals do not reach the store. */
function hangable(store: RunStore): { store: RunStore; hang(): void; resume(): void } {
  let hung = false;
  const view = new Proxy(store, {
    get(target, property) {
      if (property === "renewLeases") {
        return async (...args: Parameters<RunStore["renewLeases"]>) => {
          while (hung) await sleep(10);
          return target.renewLeases(...args);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: view, hang: () => (hung = true), resume: () => (hung = false) };
}

describeEachStore("the store contract", ({ fresh, freshPlace }) => {

  describe("runs", () => {
    it("keeps runs that a second store on the same place reads back whole", async () => {
      const open = await freshPlace();
      const first = await open();
      const result = await new StoreAdmission(first, LIMITS).admit(request("d-1"));
      await first.close();
      const second = await open();
      if (result.status !== "queued") throw new Error(result.status);
      expect(await second.getRun(result.run.id)).toEqual(result.run);
      expect(await second.getRun("run_missing")).toBeUndefined();
    });

    it("records a dedupe key once and names the run that holds it", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      expect(await store.insertRun(run("run_a", at), "key")).toEqual({ inserted: true });
      expect(await store.insertRun(run("run_b", at), "key")).toEqual({ inserted: false, existingId: "run_a" });
      expect(await store.insertRun(run("run_c", at))).toEqual({ inserted: true });
      expect(await store.insertRun(run("run_d", at))).toEqual({ inserted: true });
      expect((await store.listRuns({ limit: 10 })).map((r) => r.id).sort()).toEqual(["run_a", "run_c", "run_d"]);
    });

    it("changes a run only from the statuses named, and keeps every field of the change", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      await store.insertRun(run("run_a", at));
      expect(await store.transition("run_a", ["running"], { status: "completed" })).toBe(false);
      const finishedAt = new Date("2026-11-24T10:05:00.123Z");
      const usage = { inputTokens: 10, cacheReadTokens: 2, cacheWriteTokens: 3, outputTokens: 4 };
      expect(
        await store.transition("run_a", ["queued", "running"], { status: "completed", outcome: "succeeded", summary: "Fine.", usage, finishedAt, stopReason: "outcome_reported", reason: "why" }),
      ).toBe(true);
      expect(await store.getRun("run_a")).toMatchObject({ status: "completed", outcome: "succeeded", summary: "Fine.", usage, finishedAt, stopReason: "outcome_reported", reason: "why" });
      expect(await store.transition("run_missing", ["queued"], { status: "cancelled" })).toBe(false);
      // A NUL character (binary output quoted in a summary) is kept as U+FFFD, on every store.
      expect(await store.transition("run_a", ["completed"], { summary: "printed \u0000 then more", reason: "\u0000" })).toBe(true);
      expect(await store.getRun("run_a")).toMatchObject({ summary: "printed \uFFFD then more", reason: "\uFFFD" });
      await store.setCheckRunId("run_a", 12_345_678_901);
      expect((await store.getRun("run_a"))!.checkRunId).toBe(12_345_678_901);
    });

    it("claims the oldest queued run of the installation with the fewest running, never a second of one routine on one pull request", async () => {
      const store = await fresh();
      const t = (minute: number) => new Date(Date.UTC(2026, 10, 24, 10, minute));
      expect(await store.claimNextRun(t(0), HELD)).toBeUndefined();
      await store.insertRun(run("run_1", t(1), onPullRequest("d1", 1)));
      await store.insertRun(run("run_2", t(2), onPullRequest("d2", 1)));
      await store.insertRun(run("run_3", t(3), onPullRequest("d3", 2)));
      await store.insertRun(run("run_4", t(4), request("d4", "review", 8)));
      const first = await store.claimNextRun(t(10), HELD);
      expect(first).toMatchObject({ id: "run_1", status: "running", startedAt: t(10) });
      expect(await store.getRun("run_1")).toMatchObject({ status: "running", startedAt: t(10) });
      // Installation 8 has nothing running: its run goes before installation 7's older ones.
      expect((await store.claimNextRun(t(11), HELD))?.id).toBe("run_4");
      // Pull request 1 has a running review: its next waits, pull request 2's goes.
      expect((await store.claimNextRun(t(12), HELD))?.id).toBe("run_3");
      expect(await store.claimNextRun(t(13), HELD)).toBeUndefined();
      await store.transition("run_1", ["running"], { status: "completed", finishedAt: t(14) });
      expect((await store.claimNextRun(t(15), HELD))?.id).toBe("run_2");
      expect((await store.runningRuns()).map((r) => r.id)).toEqual(["run_2", "run_3", "run_4"]);
    });

    it("between installations running as many, claims the oldest run that can start, stepping over those waiting on their pull request", async () => {
      const store = await fresh();
      const t = (minute: number) => new Date(Date.UTC(2026, 10, 24, 10, minute));
      await store.insertRun(run("run_7a", t(0), onPullRequest("d7a", 1, "review", 7)));
      await store.insertRun(run("run_8a", t(0), onPullRequest("d8a", 2, "review", 8)));
      expect((await store.claimNextRun(t(1), HELD))?.id).toBe("run_7a");
      expect((await store.claimNextRun(t(1), HELD))?.id).toBe("run_8a");
      // Each installation runs one. The oldest queued waits on its pull request's running review.
      await store.insertRun(run("run_8b", t(2), onPullRequest("d8b", 2, "review", 8)));
      await store.insertRun(run("run_7b", t(3), onPullRequest("d7b", 3, "review", 7)));
      await store.insertRun(run("run_8c", t(4), onPullRequest("d8c", 4, "review", 8)));
      expect((await store.claimNextRun(t(5), HELD))?.id).toBe("run_7b");
      // Installation 7 now runs two, 8 one.
      expect((await store.claimNextRun(t(5), HELD))?.id).toBe("run_8c");
      expect(await store.claimNextRun(t(5), HELD)).toBeUndefined();
      await store.transition("run_8a", ["running"], { status: "completed", finishedAt: t(6) });
      expect((await store.claimNextRun(t(7), HELD))?.id).toBe("run_8b");
    });

    it("queues a running run again for its next attempt, and lists queued runs of a concurrency key", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      await store.insertRun(run("run_1", at, onPullRequest("d1", 5)));
      await store.insertRun(run("run_2", new Date(at.getTime() + 1), onPullRequest("d2", 5)));
      expect(await store.queuedRunIds("acme/app#5:review")).toEqual(["run_1", "run_2"]);
      expect(await store.requeue("run_1", 2)).toBe(false);
      await store.claimNextRun(at, HELD);
      expect(await store.queuedRunIds("acme/app#5:review")).toEqual(["run_2"]);
      expect(await store.requeue("run_1", 2)).toBe(true);
      expect(await store.getRun("run_1")).toMatchObject({ status: "queued", attempt: 2 });
      expect((await store.getRun("run_1"))!.startedAt).toBeUndefined();
      expect(await store.runningRuns()).toEqual([]);
    });

    it("counts runs by status and outcome", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      for (const id of ["run_1", "run_2", "run_3"]) await store.insertRun(run(id, at));
      await store.transition("run_1", ["queued"], { status: "completed", outcome: "succeeded" });
      await store.transition("run_2", ["queued"], { status: "completed", outcome: "succeeded" });
      const counts = await store.countByState();
      expect(counts.sort((a, b) => a.status.localeCompare(b.status))).toEqual([
        { status: "completed", outcome: "succeeded", count: 2 },
        { status: "queued", outcome: null, count: 1 },
      ]);
    });

    it("lists runs by repository, trigger kind, status and outcome, a page at a time", async () => {
      const store = await fresh();
      const admission = new StoreAdmission(store, LIMITS);
      for (let i = 0; i < 5; i++) await admission.admit(request(`d-${i}`));
      await admission.admit({ ...request("m"), repository: { owner: "acme", repo: "docs" }, trigger: { kind: "manual", user: "alice" } });
      const all = await store.listRuns({ limit: 100 });
      expect(all).toHaveLength(6);
      expect(await store.listRuns({ limit: 100, repositories: [] })).toEqual([]);
      expect((await store.listRuns({ limit: 100, repositories: [{ owner: "acme", repo: "docs" }] })).map((r) => r.trigger.kind)).toEqual(["manual"]);
      expect(await store.listRuns({ limit: 100, repository: { owner: "acme", repo: "app" }, routine: "review" })).toHaveLength(5);
      expect(await store.listRuns({ limit: 100, triggerKind: "manual" })).toHaveLength(1);
      await store.transition(all[1]!.id, ["queued"], { status: "completed", outcome: "failed" });
      expect((await store.listRuns({ limit: 100, outcome: "failed" })).map((r) => r.id)).toEqual([all[1]!.id]);
      expect(await store.listRuns({ limit: 100, status: "completed" })).toHaveLength(1);
      const page = await store.listRuns({ limit: 2, before: all[1]!.id });
      expect(page.map((r) => r.id)).toEqual([all[2]!.id, all[3]!.id]);
    });

    it("adds up each run's cost as its model calls come, and sums a routine's runs since a time", async () => {
      const store = await fresh();
      const clock = { now: new Date("2026-11-24T10:00:00Z") };
      const admit = async (id: string, routine = "review") => {
        const result = await new StoreAdmission(store, LIMITS, { clock: () => clock.now }).admit(request(id, routine));
        if (result.status !== "queued") throw new Error(result.status);
        return result.run.id;
      };
      const old = await admit("d-old");
      expect((await store.getRun(old))!.costUsd).toBeUndefined();
      await store.addRunCost(old, 0.25);
      await store.addRunCost(old, 0.5);
      expect((await store.getRun(old))!.costUsd).toBe(0.75);
      clock.now = new Date("2026-11-25T09:00:00Z");
      const recent = await admit("d-new");
      const other = await admit("d-new", "lint");
      await store.addRunCost(recent, 1.5);
      await store.addRunCost(other, 9);
      const repository = { owner: "acme", repo: "app" };
      expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T09:00:00Z") })).toEqual({ costUsd: 2.25, exhausted: false });
      expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T10:00:01Z") })).toEqual({ costUsd: 1.5, exhausted: false });
      expect(await store.routineSpend({ repository: { owner: "acme", repo: "web" }, routine: "review", since: new Date(0) })).toEqual({ costUsd: 0, exhausted: false });
      await store.transition(recent, ["queued"], { status: "completed", stopReason: "daily_budget" });
      expect(await store.routineSpend({ repository, routine: "review", since: new Date("2026-11-24T10:00:01Z") })).toEqual({ costUsd: 1.5, exhausted: true });
      expect(await store.routineSpend({ repository, routine: "lint", since: new Date(0) })).toEqual({ costUsd: 9, exhausted: false });
    });

    it("names the head commit of the newest succeeded run of a routine on a pull request, leaving out the run asking", async () => {
      const store = await fresh();
      const at = (sha: string, number = 5, routine = "review"): RunRequest => {
        const from = onPullRequest(`d-${sha}`, number, routine);
        return { ...from, context: { ...from.context, pullRequest: { ...from.context.pullRequest!, headSha: sha } } };
      };
      const finish = async (id: string, sha: string, minute: number, outcome: "succeeded" | "failed" = "succeeded", number = 5, routine = "review") => {
        await store.insertRun(run(id, new Date(`2026-11-25T10:${String(minute).padStart(2, "0")}:00Z`), at(sha, number, routine)));
        await store.transition(id, ["queued"], { status: "completed", outcome, finishedAt: new Date(`2026-11-25T10:${String(minute).padStart(2, "0")}:30Z`) });
      };
      const key = "acme/app#5:review";
      expect(await store.lastReviewedCommit(key, "r-now")).toBeUndefined();
      await finish("r-1", "sha-1", 1);
      await finish("r-2", "sha-2", 2);
      await finish("r-3", "sha-3", 3, "failed");
      await finish("r-other-pull", "sha-9", 4, "succeeded", 6);
      await finish("r-other-routine", "sha-8", 5, "succeeded", 5, "lint");
      await store.insertRun(run("r-errored", new Date("2026-11-25T10:06:00Z"), at("sha-7")));
      await store.transition("r-errored", ["queued"], { status: "errored", finishedAt: new Date("2026-11-25T10:06:30Z") });
      // An issue of the same number shares the key but was about no commit.
      const issue = request("d-issue");
      await store.insertRun(run("r-issue", new Date("2026-11-25T10:07:00Z"), { ...issue, context: { ...issue.context, issue: { number: 5, title: "A bug", body: "", author: "octocat", labels: [], url: "https://example.com/5" } } }));
      await store.transition("r-issue", ["queued"], { status: "completed", outcome: "succeeded", finishedAt: new Date("2026-11-25T10:07:30Z") });
      expect(await store.lastReviewedCommit(key, "r-now")).toBe("sha-2");
      expect(await store.lastReviewedCommit(key, "r-2")).toBe("sha-1");
      expect(await store.lastReviewedCommit("acme/app#6:review", "r-now")).toBe("sha-9");
      expect(await store.lastReviewedCommit("acme/app#7:review", "r-now")).toBeUndefined();
    });

    it("keeps each run's transcript in order", async () => {
      const store = await fresh();
      await store.insertRun(run("run_a", new Date()));
      await store.insertRun(run("run_b", new Date()));
      const at = new Date("2026-11-24T10:00:00.5Z");
      const seqs = await Promise.all([1, 2, 3, 4, 5].map((n) => store.appendEvent("run_a", "text", { n, text: "nul \u0000 and ünïcode" }, at)));
      expect(seqs.sort()).toEqual([1, 2, 3, 4, 5]);
      expect(await store.appendEvent("run_b", "tool", [1, "two"])).toBe(1);
      const events = await store.listEvents("run_a");
      expect(events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(events[0]).toMatchObject({ at, kind: "text", data: { text: "nul \u0000 and ünïcode" } });
      expect((await store.listEvents("run_a", 3)).map((event) => event.seq)).toEqual([4, 5]);
      expect(await store.listEvents("run_b")).toMatchObject([{ seq: 1, kind: "tool", data: [1, "two"] }]);
    });
  });

  describe("leases", () => {
    it("keeps a claimed run's lease while its owner renews it, and lets one other process take it over once it expires", async () => {
      const store = await fresh();
      const t = (seconds: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, seconds));
      await store.insertRun(run("run_1", t(0)));
      await store.insertRun(run("run_2", t(0)));
      await store.claimNextRun(t(1), { owner: "a", expiresAt: t(30) });
      expect(await store.renewLeases("a", ["run_1", "run_2", "run_x"], t(40))).toEqual(["run_1"]);
      expect(await store.renewLeases("b", ["run_1"], t(40))).toEqual([]);
      // Runs an owner does not name (it lost track of them) are not renewed.
      expect(await store.renewLeases("a", [], t(99))).toEqual([]);
      expect(await store.expiredRuns(t(39))).toEqual([]);
      expect((await store.expiredRuns(t(40))).map((r) => r.id)).toEqual(["run_1"]);
      expect(await store.takeExpiredLease("run_1", t(39), { owner: "b", expiresAt: t(99) })).toBe(false);
      expect(await store.takeExpiredLease("run_2", t(40), { owner: "b", expiresAt: t(99) })).toBe(false);
      expect(await store.takeExpiredLease("run_1", t(40), { owner: "b", expiresAt: t(70) })).toBe(true);
      // Taken: no longer expired, so a third process reaping at the same moment gets nothing.
      expect(await store.takeExpiredLease("run_1", t(40), { owner: "c", expiresAt: t(70) })).toBe(false);
      expect(await store.expiredRuns(t(40))).toEqual([]);
      // The first owner, back, finds it lost and can change nothing.
      expect(await store.renewLeases("a", ["run_1"], t(80))).toEqual([]);
      expect(await store.transition("run_1", ["running"], { status: "completed" }, "a")).toBe(false);
      expect(await store.requeue("run_1", 2, "a")).toBe(false);
      expect(await store.requeue("run_1", 2, "b")).toBe(true);
      expect(await store.getRun("run_1")).toMatchObject({ status: "queued", attempt: 2 });
      expect(await store.renewLeases("b", ["run_1"], t(80))).toEqual([]);
      await store.claimNextRun(t(50), { owner: "c", expiresAt: t(80) });
      await store.claimNextRun(t(50), { owner: "c", expiresAt: t(80) });
      expect(await store.transition("run_1", ["running"], { status: "completed" }, "c")).toBe(true);
      expect(await store.transition("run_2", ["running"], { status: "completed" })).toBe(true);
    });

    it("counts a running run without a lease (started before leases were kept) as expired", async () => {
      const store = await fresh();
      await store.insertRun({ ...run("run_old", new Date("2026-11-24T10:00:00Z")), status: "running" });
      expect((await store.expiredRuns(new Date("2026-11-24T10:00:01Z"))).map((r) => r.id)).toEqual(["run_old"]);
      expect(await store.takeExpiredLease("run_old", new Date("2026-11-24T10:00:01Z"), HELD)).toBe(true);
    });

    it("leaves a live process's runs alone when another starts, and takes them over once it stops renewing: retried if they published nothing, else interrupted", async () => {
      const open = await freshPlace();
      const stores = [await open(), await open()];
      const first = hangable(stores[0]!);
      const executors = [new HeldExecutor(), new HeldExecutor()];
      const options = { concurrency: 2, pollInterval: 50, leaseMs: 300 };
      const takenOver: string[] = [];
      // What the first process tells of its runs' ends: nothing, once it has lost them.
      const told: string[] = [];
      const pools = [
        new WorkerPool(first.store, executors[0]!, { ...options, owner: "first", observer: { finished: async (run) => void told.push(run.id) } }),
        new WorkerPool(stores[1]!, executors[1]!, { ...options, owner: "second", onTakenOver: async (run) => void takenOver.push(run.id) }),
      ];
      await pools[0]!.start();
      const admission = new StoreAdmission(stores[0]!, LIMITS, { onQueued: () => pools[0]!.wake() });
      const admitted = async (from: RunRequest) => {
        const result = await admission.admit(from);
        if (result.status !== "queued") throw new Error(result.status);
        return result.run.id;
      };
      const quiet = await admitted(request("d-quiet"));
      const posted = await admitted(request("d-posted", "lint"));
      await until(() => executors[0]!.started.length === 2, "the first process to start both runs");
      await stores[0]!.appendEvent(posted, "tool_call", { id: "t1", name: "create_review", input: {} });

      // A second process starts while the first is alive: it takes nothing over.
      expect(await pools[1]!.start()).toEqual({ requeued: [], interrupted: [] });
      await sleep(900);
      expect(executors[1]!.started).toEqual([]);
      expect(takenOver).toEqual([]);
      expect((await stores[1]!.runningRuns()).map((r) => r.id).sort()).toEqual([quiet, posted].sort());

      // The first process hangs: its leases expire, and the second settles its runs.
      first.hang();
      await until(() => executors[1]!.started.includes(quiet), "the second process to run the quiet run again");
      expect(await stores[1]!.getRun(quiet)).toMatchObject({ status: "running", attempt: 2 });
      expect(takenOver.sort()).toEqual([quiet, posted].sort());
      expect(await stores[1]!.getRun(posted)).toMatchObject({
        status: "interrupted",
        reason: "interrupted: the process running it stopped renewing its lease (it stopped, crashed or lost the database); it had already published to GitHub, so it was not run again",
      });

      // Still hung, the first process ends its session of the quiet run: it no longer holds the run, so nothing is recorded.
      executors[0]!.finish(quiet);
      await sleep(200);
      expect(await stores[0]!.getRun(quiet)).toMatchObject({ status: "running", attempt: 2 });
      expect(told).toEqual([]);
      // Back, it finds its other lease gone and stops that session without touching the run.
      first.resume();
      await until(() => executors[0]!.aborted.includes(posted), "the first process to stop the session it lost");
      expect(executors[0]!.aborted).toEqual([posted]);
      expect(await stores[0]!.getRun(posted)).toMatchObject({ status: "interrupted" });
      expect(told).toEqual([]);
      executors[1]!.finish(quiet);
      await until(async () => (await stores[0]!.getRun(quiet))?.status === "completed", "the second process to complete the run");
      expect((await stores[0]!.listEvents(quiet)).map((event) => event.kind)).toEqual(["started", "requeued", "started"]);
      await Promise.all(pools.map((pool) => pool.stop()));
    });
  });

  describe("admission", () => {
    it("records each routine of a delivery once, and counts only runs that were not rejected", async () => {
      let now = new Date("2026-11-24T10:00:00Z");
      const store = await fresh();
      const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 1, hourlyRunsPerInstallation: 10 }, { clock: () => now });
      expect((await admission.admit(request("d-1"))).status).toBe("queued");
      expect((await admission.admit(request("d-1", "lint"))).status).toBe("queued");
      expect((await admission.admit(request("d-1"))).status).toBe("duplicate");
      expect((await admission.admit(request("d-2"))).status).toBe("rejected");
      expect((await admission.admit(request("d-3"))).status).toBe("rejected");
      now = new Date("2026-11-24T11:00:01Z");
      expect((await admission.admit(request("d-4"))).status).toBe("queued");
    });

    it("does not cap runs that webhooks did not start, and runs a schedule's minute once", async () => {
      const store = await fresh();
      const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 0, hourlyRunsPerInstallation: 0 });
      const scheduled = (scheduledFor: string, oneOff = false): RunRequest => ({ ...request("x"), trigger: { kind: "schedule", index: 0, scheduledFor, oneOff } });
      expect((await admission.admit(scheduled("2026-11-24T10:00:00.000Z"))).status).toBe("queued");
      expect((await admission.admit(scheduled("2026-11-24T11:00:00.000Z"))).status).toBe("queued");
      expect((await admission.admit(scheduled("2026-11-24T11:00:00.000Z"))).status).toBe("duplicate");
      const since = new Date(0);
      expect(await store.countRecentRuns({ since, installationId: 7 })).toBe(2);
      expect(await store.countRecentRuns({ since, installationId: 7, triggerKinds: ["github"] })).toBe(0);
      expect((await admission.admit(scheduled("2026-11-24T12:00:00.000Z", true))).status).toBe("queued");
      expect(await store.countRecentRuns({ since, installationId: 7 })).toBe(3);
      expect(await store.countRecentRuns({ since, installationId: 7, withoutOneOff: true })).toBe(2);
      expect(await store.countRecentRuns({ since, installationId: 7, atMost: 2 })).toBe(2);
      expect(await store.countRecentRuns({ since, installationId: 7, atMost: 5 })).toBe(3);
      expect(await store.countRecentRuns({ since, installationId: 8 })).toBe(0);
      expect(await store.countRecentRuns({ since, installationId: 7, routine: { repository: { owner: "acme", repo: "app" }, name: "lint" } })).toBe(0);
    });

    it("runs a schedule's minute once when several processes fire it together, a one-off's too", async () => {
      const open = await freshPlace();
      const admissions = await Promise.all([1, 2, 3].map(async () => new StoreAdmission(await open(), LIMITS)));
      const scheduled = (routine: string, scheduledFor: string, oneOff = false): RunRequest => ({ ...request("x", routine), trigger: { kind: "schedule", index: 0, scheduledFor, oneOff } });
      const slots = ["2026-11-24T10:00:00.000Z", "2026-11-24T10:01:00.000Z", "2026-11-24T10:02:00.000Z"];
      const results = await Promise.all(
        slots.flatMap((slot) => admissions.flatMap((admission) => [admission.admit(scheduled("poll", slot)), admission.admit(scheduled("sweep", slot)), admission.admit(scheduled("once", slot, true))])),
      );
      expect(results.filter((result) => result.status === "queued")).toHaveLength(slots.length * 3);
      expect(results.filter((result) => result.status === "duplicate")).toHaveLength(slots.length * 3 * 2);
      const runs = await (await open()).listRuns({ limit: 100 });
      const fired = runs.map((run) => `${run.routine}@${run.trigger.kind === "schedule" ? run.trigger.scheduledFor : "?"}`);
      expect(new Set(fired).size).toBe(slots.length * 3);
      expect(fired).toHaveLength(slots.length * 3);
    });

    it("holds admissions of one installation one at a time, so a cap is exact when they come together", async () => {
      const store = await fresh();
      const admission = new StoreAdmission(store, { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 3, hourlyRunsPerInstallation: 100 });
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => admission.admit(request(`d-${i}`))));
      expect(results.filter((result) => result.status === "queued")).toHaveLength(3);
      expect(results.filter((result) => result.status === "rejected")).toHaveLength(5);
    });

    it("replaces the run waiting for a routine on a pull request with the newer one, even when they come together", async () => {
      const store = await fresh();
      const admission = new StoreAdmission(store, LIMITS);
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => admission.admit(onPullRequest(`d-${i}`, 9))));
      expect(results.every((result) => result.status === "queued")).toBe(true);
      expect(await store.queuedRunIds("acme/app#9:review")).toHaveLength(1);
      expect((await store.listRuns({ limit: 10, status: "cancelled" })).every((r) => r.reason?.startsWith("superseded by run_"))).toBe(true);
    });

    it("starts nothing for an installation whose kill switch is thrown, and cancels its queued runs", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      await store.insertRun(run("run_1", at));
      await store.insertRun(run("run_2", at, request("d2", "review", 8)));
      expect(await store.isInstallationDisabled(7)).toBe(false);
      await store.setInstallationDisabled(7, true);
      await store.setInstallationDisabled(7, true);
      expect(await store.isInstallationDisabled(7)).toBe(true);
      expect(await store.disabledInstallations()).toEqual([7]);
      expect(await store.cancelQueuedRuns(7, "kill switch", at)).toEqual(["run_1"]);
      expect(await store.getRun("run_1")).toMatchObject({ status: "cancelled", reason: "kill switch", finishedAt: at });
      expect((await new StoreAdmission(store, LIMITS).admit(request("d3"))).status).toBe("rejected");
      await store.setInstallationDisabled(7, false);
      expect(await store.disabledInstallations()).toEqual([]);
    });
  });

  describe("tokens, schedules, sessions", () => {
    it("keeps run tokens until they are forgotten or expire, and leaves running runs' tokens out of the leftovers", async () => {
      const store = await fresh();
      const now = new Date("2026-11-24T10:00:00Z");
      const later = new Date(now.getTime() + 3_600_000);
      await store.insertRun(run("run_1", now));
      await store.insertRun(run("run_4", now));
      await store.claimNextRun(now, HELD);
      await store.recordRunToken({ token: "ghs_a", runId: "run_1", expiresAt: later });
      await store.recordRunToken({ token: "ghs_b", runId: "run_2", expiresAt: now });
      await store.recordRunToken({ token: "ghs_c", runId: "run_3", expiresAt: later });
      await store.recordRunToken({ token: "ghs_d", runId: "run_4", expiresAt: later });
      await store.forgetRunToken("ghs_c");
      // run_1 is running: its token is its process's. run_4 waits, and run_3 is unknown: theirs are leftovers.
      expect(await store.liveRunTokens(now)).toEqual([{ token: "ghs_d", runId: "run_4", expiresAt: later }]);
      expect(await store.runTokens("run_1")).toEqual([{ token: "ghs_a", runId: "run_1", expiresAt: later }]);
      expect(await store.runTokens("run_2")).toEqual([]);
      await store.transition("run_1", ["running"], { status: "completed" });
      expect((await store.liveRunTokens(now)).map((t) => t.token).sort()).toEqual(["ghs_a", "ghs_d"]);
    });

    it("records a one-off's fate once", async () => {
      const store = await fresh();
      const at = new Date("2026-11-24T10:00:00Z");
      expect(await store.oneOffState("k")).toBeUndefined();
      expect(await store.recordOneOff("k", "missed", at)).toBe(true);
      expect(await store.recordOneOff("k", "fired", at)).toBe(false);
      expect(await store.oneOffState("k")).toBe("missed");
    });

    it("records a one-off's fate for one of several processes that record it together", async () => {
      const open = await freshPlace();
      const stores = await Promise.all([1, 2, 3, 4].map(() => open()));
      const at = new Date("2026-11-24T10:00:00Z");
      const recorded = await Promise.all(stores.map((store, i) => store.recordOneOff("once:acme/app:migrate:2026-11-24T10:00:00.000Z", i === 0 ? "missed" : "fired", at)));
      expect(recorded.filter(Boolean)).toHaveLength(1);
    });

    it("keeps API tokens and revokes them once", async () => {
      const store = await fresh();
      const createdAt = new Date("2026-11-24T10:00:00Z");
      const token = { triggerId: "trg_1", repository: { owner: "acme", repo: "app" }, routine: "triage", tokenHash: "ab".repeat(32), createdAt };
      await store.createApiToken(token);
      await store.createApiToken({ ...token, triggerId: "trg_0", createdAt: new Date(createdAt.getTime() - 1) });
      expect(await store.getApiToken("trg_1")).toEqual(token);
      expect(await store.getApiToken("trg_x")).toBeUndefined();
      expect((await store.listApiTokens()).map((t) => t.triggerId)).toEqual(["trg_0", "trg_1"]);
      const at = new Date("2026-11-25T10:00:00Z");
      expect(await store.revokeApiToken("trg_1", at)).toBe(true);
      expect(await store.revokeApiToken("trg_1", at)).toBe(false);
      expect(await store.revokeApiToken("trg_x", at)).toBe(false);
      expect(await store.getApiToken("trg_1")).toEqual({ ...token, revokedAt: at });
    });

    it("keeps sessions until they expire or are deleted", async () => {
      const store = await fresh();
      const at = new Date(Date.UTC(2026, 0, 1));
      const later = (ms: number) => new Date(at.getTime() + ms);
      await store.createSession({ idHash: "a", data: '{"who":"a"}', createdAt: at, expiresAt: later(1000) });
      await store.createSession({ idHash: "b", data: '{"who":"b"}', createdAt: at, expiresAt: later(5000) });
      expect(await store.getSession("a", later(999))).toEqual({ idHash: "a", data: '{"who":"a"}', createdAt: at, expiresAt: later(1000) });
      expect(await store.getSession("a", later(1000))).toBeUndefined();
      await store.deleteSession("b");
      expect(await store.getSession("b", at)).toBeUndefined();
    });

    it("answers a ping", async () => {
      await expect((await fresh()).ping()).resolves.toBeUndefined();
    });
  });

  describe("webhook deliveries", () => {
    const at = new Date("2026-11-24T12:00:00Z");
    const entry = (id: string, orderingKey?: string) => ({ id, name: "pull_request", body: `{"id":"${id}"}`, ...(orderingKey ? { orderingKey } : {}), receivedAt: at });

    it("writes a delivery once, and names the earlier delivery of the same body under another id, within the window, writing nothing", async () => {
      const store = await fresh();
      const hour = 3_600_000;
      const later = (id: string, ms: number) => ({ ...entry(id), body: "same", receivedAt: new Date(at.getTime() + ms) });
      expect(await store.acceptDelivery(later("d-1", 0), "hash-a", hour)).toEqual({ queued: true });
      // GitHub's redelivery: the same id and body.
      expect(await store.acceptDelivery(later("d-1", 0), "hash-a", hour)).toEqual({ queued: false });
      expect(await store.acceptDelivery(later("d-2", hour / 2), "hash-a", hour)).toEqual({ replayOf: "d-1" });
      expect(await store.acceptDelivery(entry("d-3"), "hash-b", hour)).toEqual({ queued: true });
      expect(await store.acceptDelivery(later("d-4", 2 * hour), "hash-a", hour)).toEqual({ queued: true });
      expect((await store.pendingDeliveries(10, at)).map((delivery) => delivery.id)).toEqual(["d-1", "d-3", "d-4"]);
    });

    it("keeps each delivery id once and lists pending deliveries in order of arrival", async () => {
      const store = await fresh();
      expect(await store.enqueueDelivery(entry("b", "acme/app#1"))).toBe(true);
      expect(await store.enqueueDelivery(entry("a"))).toBe(true);
      expect(await store.enqueueDelivery({ ...entry("b"), body: "{}" })).toBe(false);
      expect(await store.pendingDeliveries(10, at)).toEqual([
        { id: "b", orderingKey: "acme/app#1", attempts: 0 },
        { id: "a", attempts: 0 },
      ]);
      expect(await store.pendingDeliveries(1, at)).toHaveLength(1);
      expect((await store.getDelivery("b"))?.body).toBe('{"id":"b"}');
    });

    it("counts attempts, and starts only pending deliveries", async () => {
      const store = await fresh();
      await store.enqueueDelivery(entry("a"));
      await store.enqueueDelivery(entry("b"));
      expect(await store.startDelivery("a", HELD, at)).toEqual({ id: "a", name: "pull_request", body: '{"id":"a"}', attempts: 1, state: "pending", receivedAt: at });
      expect((await store.startDelivery("a", HELD, at))?.attempts).toBe(2);
      await store.finishDelivery("a", at);
      expect(await store.startDelivery("a", HELD, at)).toBeUndefined();
      expect(await store.startDelivery("unknown", HELD, at)).toBeUndefined();
      expect((await store.pendingDeliveries(10, at)).map((d) => d.id)).toEqual(["b"]);
      expect(await store.getDelivery("a")).toMatchObject({ state: "done", attempts: 2 });
      await store.enqueueDelivery(entry("c"));
      await store.finishDelivery("c", at, "GitHub answered 502");
      // Done ones are not counted.
      expect(await store.countDeliveries()).toEqual([
        { state: "failed", count: 1 },
        { state: "pending", count: 1 },
      ]);
    });

    it("records a failure with its error, once", async () => {
      const store = await fresh();
      await store.enqueueDelivery(entry("a"));
      await store.finishDelivery("a", at, "GitHub answered 502");
      await store.finishDelivery("a", at);
      expect(await store.getDelivery("a")).toMatchObject({ state: "failed", error: "GitHub answered 502" });
    });

    it("prunes finished deliveries before the time, never pending ones", async () => {
      const store = await fresh();
      for (const id of ["old", "new", "waiting"]) await store.enqueueDelivery(entry(id));
      await store.finishDelivery("old", at, "failed");
      await store.finishDelivery("new", new Date(at.getTime() + 1_000));
      expect(await store.pruneDeliveries(new Date(at.getTime() + 1))).toBe(1);
      expect(await store.getDelivery("old")).toBeUndefined();
      expect(await store.getDelivery("new")).toBeDefined();
      expect(await store.pruneDeliveries(new Date(at.getTime() + 10_000))).toBe(1);
      expect((await store.pendingDeliveries(10, at)).map((row) => row.id)).toEqual(["waiting"]);
      expect(await store.enqueueDelivery(entry("old"))).toBe(true);
    });

    it("gives a delivery to one process at a time, to another once the claim expires, and keeps an ordering key's deliveries in order", async () => {
      const store = await fresh();
      for (const [id, key] of [["a1", "acme/app#1"], ["a2", "acme/app#1"], ["b", undefined]] as const) await store.enqueueDelivery(entry(id, key));
      const until = new Date(at.getTime() + 60_000);
      const first = { owner: "process-1", expiresAt: until };
      const second = { owner: "process-2", expiresAt: new Date(until.getTime() + 60_000) };
      // a2 waits behind a1, whoever holds it.
      expect(await store.startDelivery("a2", first, at)).toBeUndefined();
      expect((await store.pendingDeliveries(10, at)).map((d) => d.id)).toEqual(["a1", "b"]);
      expect((await store.startDelivery("a1", first, at))?.attempts).toBe(1);
      expect(await store.startDelivery("a1", second, at)).toBeUndefined();
      // Listed for no one while claimed; its owner may start it again (a retry).
      expect((await store.pendingDeliveries(10, at)).map((d) => d.id)).toEqual(["b"]);
      expect((await store.startDelivery("a1", first, at))?.attempts).toBe(2);
      expect(await store.renewClaims("inbox", "process-1", ["a1", "b"], new Date(until.getTime() - 1))).toEqual(["a1"]);
      expect(await store.renewClaims("inbox", "process-1", ["a1"], until)).toEqual(["a1"]);
      // process-1 died: at its claim's expiry the delivery is another's to take.
      expect(await store.startDelivery("a1", second, new Date(until.getTime() - 1))).toBeUndefined();
      expect((await store.pendingDeliveries(10, until)).map((d) => d.id)).toEqual(["a1", "b"]);
      expect((await store.startDelivery("a1", second, until))?.attempts).toBe(3);
      expect(await store.renewClaims("inbox", "process-1", ["a1"], until)).toEqual([]);
      expect(await store.startDelivery("a2", second, until)).toBeUndefined();
      await store.finishDelivery("a1", until);
      expect((await store.startDelivery("a2", first, until))?.attempts).toBe(1);
      // Finishing ends the claim.
      await store.finishDelivery("a2", until);
      expect(await store.renewClaims("inbox", "process-1", ["a2"], until)).toEqual([]);
    });

    it("gives each delivery to one of two processes that start it together", async () => {
      const open = await freshPlace();
      const [first, second] = [await open(), await open()];
      const ids = Array.from({ length: 20 }, (_, i) => `d-${i}`);
      for (const id of ids) await first.enqueueDelivery(entry(id));
      const claim = (owner: string) => ({ owner, expiresAt: new Date(at.getTime() + 60_000) });
      const started = await Promise.all(
        ids.flatMap((id) => [first.startDelivery(id, claim("process-1"), at), second.startDelivery(id, claim("process-2"), at)].map(async (start) => (await start)?.id)),
      );
      expect(started.filter((id) => id !== undefined).sort()).toEqual([...ids].sort());
      expect(await first.pendingDeliveries(100, at)).toEqual([]);
    });

    it("ends every claim on the inbox for a process that is the store's only one", async () => {
      const store = await fresh();
      await store.enqueueDelivery(entry("a"));
      await store.startDelivery("a", HELD, at);
      expect(await store.pendingDeliveries(10, at)).toEqual([]);
      expect(await store.releaseClaims("inbox")).toBe(1);
      expect((await store.pendingDeliveries(10, at)).map((d) => d.id)).toEqual(["a"]);
    });
  });

  describe("idempotency keys", () => {
    const hour = 60 * 60 * 1000;
    const at = new Date("2026-11-24T10:00:00Z");
    const later = (ms: number) => new Date(at.getTime() + ms);

    it("claims a key once, names the earlier claim and its answer, and forgets the key after 24 hours", async () => {
      const store = await fresh();
      expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: at })).toBeUndefined();
      expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "g", claimedAt: later(1) })).toEqual({ keyHash: "k", fingerprint: "f", claimedAt: at });
      await store.answerIdempotencyKey("k", { status: 200, body: '{"run_id":"run_1"}' });
      await store.releaseIdempotencyKey("k");
      expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: later(23 * hour) })).toEqual({
        keyHash: "k",
        fingerprint: "f",
        claimedAt: at,
        answer: { status: 200, body: '{"run_id":"run_1"}' },
      });
      expect(await store.claimIdempotencyKey({ keyHash: "k", fingerprint: "f", claimedAt: later(24 * hour) })).toBeUndefined();
    });

    it("frees a released claim at once, and an unanswered one after five minutes", async () => {
      const store = await fresh();
      await store.claimIdempotencyKey({ keyHash: "released", fingerprint: "f", claimedAt: at });
      await store.releaseIdempotencyKey("released");
      expect(await store.claimIdempotencyKey({ keyHash: "released", fingerprint: "f", claimedAt: later(1) })).toBeUndefined();
      await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: at });
      expect(await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: later(4 * 60_000) })).toMatchObject({ fingerprint: "f" });
      expect(await store.claimIdempotencyKey({ keyHash: "abandoned", fingerprint: "f", claimedAt: later(5 * 60_000) })).toBeUndefined();
    });

    it("gives a key to one of several claims that come together", async () => {
      const store = await fresh();
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => store.claimIdempotencyKey({ keyHash: "k", fingerprint: `f${i}`, claimedAt: at })));
      expect(claims.filter((claim) => claim === undefined)).toHaveLength(1);
    });
  });

  describe("outboxes", () => {
    const now = new Date("2026-11-24T10:00:00Z");
    const check = (key: string, version: CheckEntry["version"], priority = 0, title = `v${String(version)}`): CheckEntry => ({
      key,
      ...(key.startsWith("run:") ? { runId: key.slice(4) } : {}),
      installationId: 7,
      repository: { owner: "acme", repo: "app" },
      headSha: "abc",
      name: "routines/review",
      priority,
      version,
      state: { status: "queued", external_id: key, output: { title, summary: "s" } },
    });

    it("keeps the newest state of each check run, runs' own before summaries, and remembers what was published", async () => {
      const store = await fresh();
      await store.insertRun(run("run_1", now));
      expect(await store.recordCheck(check("summary:abc", "next", 1, "first"))).toBe(true);
      expect(await store.recordCheck(check("run:run_1", 2))).toBe(true);
      expect(await store.recordCheck(check("run:run_1", 1))).toBe(false);
      expect(await store.recordCheck(check("run:run_1", 2))).toBe(false);
      expect(await store.recordCheck(check("summary:abc", "next", 1, "second"))).toBe(true);
      const pending = await store.pendingChecks(now, 10);
      expect(pending.map((p) => [p.key, p.version, p.state.output.title, p.creating, p.attempts])).toEqual([
        ["run:run_1", 2, "v2", false, 0],
        ["summary:abc", 2, "second", false, 0],
      ]);
      expect(pending[0]).toMatchObject({ runId: "run_1", installationId: 7, repository: { owner: "acme", repo: "app" }, headSha: "abc", name: "routines/review", priority: 0 });
      expect(pending[0]!.checkRunId).toBeUndefined();
      await store.markCheckCreating("run:run_1");
      expect((await store.pendingChecks(now, 10))[0]!.creating).toBe(true);
      await store.markCheckPublished("run:run_1", 2, 98_765_432_101);
      expect((await store.getRun("run_1"))!.checkRunId).toBe(98_765_432_101);
      expect((await store.pendingChecks(now, 10)).map((p) => p.key)).toEqual(["summary:abc"]);
      expect(await store.recordCheck(check("run:run_1", 3))).toBe(true);
      expect(await store.pendingChecks(now, 10)).toMatchObject([{ key: "run:run_1", version: 3, checkRunId: 98_765_432_101, creating: false }, { key: "summary:abc" }]);
      // An older version published late does not hide the newer one.
      await store.markCheckPublished("run:run_1", 1, undefined);
      expect((await store.pendingChecks(now, 1)).map((p) => p.key)).toEqual(["run:run_1"]);
    });

    it("waits until a failed check's retry time", async () => {
      const store = await fresh();
      await store.recordCheck(check("summary:abc", "next", 1));
      await store.markCheckFailed("summary:abc", new Date(now.getTime() + 60_000));
      expect(await store.pendingChecks(now, 10)).toEqual([]);
      expect(await store.pendingChecks(new Date(now.getTime() + 60_000), 10)).toMatchObject([{ key: "summary:abc", attempts: 1 }]);
    });

    it("keeps each status comment's newest state, recorded by compare-and-set, until it is published", async () => {
      const store = await fresh();
      const entry = (state: string, body: string) => ({ key: "acme/app#7:review", installationId: 7, repository: { owner: "acme", repo: "app" }, issueNumber: 7, state, body });
      expect(await store.statusComment("acme/app#7:review")).toBeUndefined();
      expect(await store.recordStatusComment(entry("{\"s\":1}", "queued"), 0)).toBe(true);
      // Another writer at the same version loses, and reads again.
      expect(await store.recordStatusComment(entry("{\"s\":1}", "queued too"), 0)).toBe(false);
      expect(await store.recordStatusComment(entry("{\"s\":2}", "running"), 1)).toBe(true);
      expect(await store.recordStatusComment(entry("{\"s\":2}", "running too"), 1)).toBe(false);
      expect(await store.statusComment("acme/app#7:review")).toEqual({ ...entry("{\"s\":2}", "running"), version: 2 });
      expect(await store.pendingStatusComments(now, 10)).toEqual([{ ...entry("{\"s\":2}", "running"), version: 2, attempts: 0 }]);
      await store.markStatusCommentFailed("acme/app#7:review", new Date(now.getTime() + 1_000));
      expect(await store.pendingStatusComments(now, 10)).toEqual([]);
      expect(await store.pendingStatusComments(new Date(now.getTime() + 1_000), 10)).toMatchObject([{ attempts: 1 }]);
      await store.markStatusCommentPublished("acme/app#7:review", 2, 55_000_000_001);
      expect(await store.pendingStatusComments(new Date(now.getTime() + 1_000), 10)).toEqual([]);
      expect(await store.recordStatusComment(entry("{\"s\":3}", "done"), 2)).toBe(true);
      // An older version published late does not hide the newer one.
      await store.markStatusCommentPublished("acme/app#7:review", 1, undefined);
      expect(await store.pendingStatusComments(now, 10)).toEqual([{ ...entry("{\"s\":3}", "done"), version: 3, commentId: 55_000_000_001, attempts: 0 }]);
    });

    it("sends replies once per key, one at a time per issue, oldest first", async () => {
      const store = await fresh();
      const reply = (key: string, issueNumber: number) => ({
        key,
        installationId: 7,
        repository: { owner: "acme", repo: "app" },
        issueNumber,
        write: key.endsWith("eyes") ? ({ kind: "reaction", commentId: 5, content: "eyes" } as const) : ({ kind: "comment", body: `on ${issueNumber}` } as const),
      });
      expect(await store.recordReply(reply("d1:eyes", 1), now)).toBe(true);
      expect(await store.recordReply(reply("d1:reply", 1), now)).toBe(true);
      expect(await store.recordReply(reply("d2:reply", 2), now)).toBe(true);
      expect(await store.recordReply(reply("d1:eyes", 1), now)).toBe(false);
      expect(await store.pendingReplies(now, 10)).toEqual([
        { ...reply("d1:eyes", 1), creating: false, attempts: 0 },
        { ...reply("d2:reply", 2), creating: false, attempts: 0 },
      ]);
      await store.markReplyCreating("d1:eyes");
      expect((await store.pendingReplies(now, 1))[0]!.creating).toBe(true);
      await store.markReplyDone("d1:eyes", now, "sent");
      await store.markReplyFailed("d2:reply", new Date(now.getTime() + 1_000));
      expect((await store.pendingReplies(now, 10)).map((r) => r.key)).toEqual(["d1:reply"]);
      expect((await store.pendingReplies(new Date(now.getTime() + 1_000), 10)).map((r) => [r.key, r.attempts])).toEqual([["d1:reply", 0], ["d2:reply", 1]]);
      await store.markReplyDone("d1:reply", new Date(now.getTime() + 5_000), "abandoned");
      expect(await store.pruneReplies(new Date(now.getTime() + 1))).toBe(1);
      expect(await store.pruneReplies(new Date(now.getTime() + 10_000))).toBe(1);
      expect(await store.recordReply(reply("d1:eyes", 1), now)).toBe(true);
    });

    it("keeps a claimed item from other processes until its outcome is recorded or its claim expires", async () => {
      const store = await fresh();
      const until = new Date(now.getTime() + 60_000);
      const first = { owner: "process-1", expiresAt: until };
      const second = { owner: "process-2", expiresAt: new Date(until.getTime() + 60_000) };
      await store.recordCheck(check("summary:abc", "next", 1));
      expect((await store.claimChecks(now, 10, first)).map((c) => c.key)).toEqual(["summary:abc"]);
      expect(await store.claimChecks(now, 10, second)).toEqual([]);
      expect(await store.claimChecks(now, 10, first)).toEqual([]);
      // Still due for anyone who only looks.
      expect((await store.pendingChecks(now, 10)).map((c) => c.key)).toEqual(["summary:abc"]);
      expect(await store.renewClaims("checks", "process-2", ["summary:abc"], until)).toEqual([]);
      expect(await store.renewClaims("checks", "process-1", ["summary:abc"], until)).toEqual(["summary:abc"]);
      // The attempt failed: the claim ends, and the retry is anyone's when due.
      await store.markCheckFailed("summary:abc", now);
      expect((await store.claimChecks(now, 10, second)).map((c) => [c.key, c.attempts])).toEqual([["summary:abc", 1]]);
      // process-2 died: its claim expires.
      expect(await store.claimChecks(new Date(second.expiresAt.getTime() - 1), 10, first)).toEqual([]);
      expect((await store.claimChecks(second.expiresAt, 10, first)).map((c) => c.key)).toEqual(["summary:abc"]);
      await store.markCheckPublished("summary:abc", 1, 5);
      // A newer state after publication is due again, and free to claim.
      await store.recordCheck(check("summary:abc", "next", 1));
      expect((await store.claimChecks(now, 10, second)).map((c) => [c.key, c.version, c.checkRunId])).toEqual([["summary:abc", 2, 5]]);
      expect(await store.releaseClaims("checks")).toBe(1);
      expect((await store.claimChecks(now, 10, first)).map((c) => c.key)).toEqual(["summary:abc"]);
    });

    it("gives each check, reply and status comment to one of two processes that claim together", async () => {
      const open = await freshPlace();
      const [first, second] = [await open(), await open()];
      const keys = Array.from({ length: 12 }, (_, i) => i);
      for (const i of keys) {
        await first.recordCheck(check(`run:r${i}`, 1));
        await first.recordReply({ key: `d${i}:reply`, installationId: 7, repository: { owner: "acme", repo: "app" }, issueNumber: i, write: { kind: "comment", body: "hi" } }, now);
        await first.recordStatusComment({ key: `acme/app#${i}:review`, installationId: 7, repository: { owner: "acme", repo: "app" }, issueNumber: i, state: "{}", body: "queued" }, 0);
      }
      const claim = (owner: string) => ({ owner, expiresAt: new Date(now.getTime() + 60_000) });
      /** Claims a few at a time until none is left, as an outbox does. */
      const drain = async (claimSome: () => Promise<Array<{ key: string }>>) => {
        const taken: string[] = [];
        for (let some = await claimSome(); some.length > 0; some = await claimSome()) taken.push(...some.map((item) => item.key));
        return taken;
      };
      for (const [name, claimOn] of [
        ["checks", (store: RunStore, owner: string) => store.claimChecks(now, 3, claim(owner))],
        ["replies", (store: RunStore, owner: string) => store.claimReplies(now, 3, claim(owner))],
        ["status comments", (store: RunStore, owner: string) => store.claimStatusComments(now, 3, claim(owner))],
      ] as const) {
        const [a, b] = await Promise.all([drain(() => claimOn(first, "process-1")), drain(() => claimOn(second, "process-2"))]);
        expect([...a, ...b].length, name).toBe(keys.length);
        expect(new Set([...a, ...b]).size, name).toBe(keys.length);
      }
    });

    it("claims only the first pending reply of an issue, and the next once it is done", async () => {
      const store = await fresh();
      const reply = (key: string) => ({ key, installationId: 7, repository: { owner: "acme", repo: "app" }, issueNumber: 1, write: { kind: "comment", body: key } as const });
      await store.recordReply(reply("d1:reply"), now);
      await store.recordReply(reply("d2:reply"), now);
      const first = { owner: "process-1", expiresAt: new Date(now.getTime() + 60_000) };
      const second = { owner: "process-2", expiresAt: new Date(now.getTime() + 60_000) };
      expect((await store.claimReplies(now, 10, first)).map((r) => r.key)).toEqual(["d1:reply"]);
      expect(await store.claimReplies(now, 10, second)).toEqual([]);
      await store.markReplyDone("d1:reply", now, "sent");
      expect((await store.claimReplies(now, 10, second)).map((r) => r.key)).toEqual(["d2:reply"]);
    });
  });

  describe("findings", () => {
    const repository = { owner: "acme", repo: "app" };
    const finding = (commentId: number, pullNumber: number, routine = "review", where = repository): FindingRecord => ({
      repository: where,
      installationId: 7,
      pullNumber,
      routine,
      commentId,
      path: "src/a.ts",
      side: "RIGHT",
      startLine: 3,
      endLine: 5,
      headSha: "abc",
      postedAt: new Date(`2026-11-20T10:00:${String(commentId % 60).padStart(2, "0")}Z`),
    });

    it("tells whether any routine ran on a pull request, by its runs' concurrency keys", async () => {
      const store = await fresh();
      await store.insertRun(run("run_1", new Date("2026-11-20T10:00:00Z"), onPullRequest("d1", 12)));
      await store.insertRun(run("run_2", new Date("2026-11-20T10:00:00Z"), onPullRequest("d2", 123, "triage")));
      expect(await store.ranOnPullRequest({ owner: "Acme", repo: "App" }, 12)).toBe(true);
      expect(await store.ranOnPullRequest(repository, 123)).toBe(true);
      expect(await store.ranOnPullRequest(repository, 1)).toBe(false);
      expect(await store.ranOnPullRequest(repository, 1234)).toBe(false);
      expect(await store.ranOnPullRequest({ owner: "acme", repo: "ap" }, 12)).toBe(false);
    });

    it("records a finding once, with its signals unknown until they are set", async () => {
      const store = await fresh();
      expect(await store.recordFinding(finding(98_765_432_101, 12))).toBe(true);
      expect(await store.recordFinding({ ...finding(98_765_432_101, 12), routine: "other" })).toBe(false);
      expect(await store.pullRequestFindings(repository, 12)).toEqual([finding(98_765_432_101, 12)]);
      expect(await store.updateFindingSignals(repository, 98_765_432_101, { resolved: false, thumbsUp: 2 })).toBe(true);
      expect(await store.updateFindingSignals(repository, 98_765_432_101, { linesChanged: true, thumbsDown: 0 })).toBe(true);
      // What is left out keeps its value.
      expect(await store.updateFindingSignals(repository, 98_765_432_101, {})).toBe(true);
      expect(await store.updateFindingSignals(repository, 5, { resolved: true })).toBe(false);
      expect(await store.updateFindingSignals({ owner: "acme", repo: "other" }, 98_765_432_101, { resolved: true })).toBe(false);
      const [stored] = await store.pullRequestFindings(repository, 12);
      expect(stored).toEqual({ ...finding(98_765_432_101, 12), resolved: false, linesChanged: true, thumbsUp: 2, thumbsDown: 0 });
      expect(await store.pullRequestFindings(repository, 13)).toEqual([]);
    });

    it("counts per routine the findings on merged pull requests addressed before the merge, the unknown apart", async () => {
      const store = await fresh();
      const merged = new Date("2026-11-21T10:00:00Z");
      // Pull request 1, merged: resolved; lines changed; neither; not known.
      for (const id of [1, 2, 3, 4]) await store.recordFinding(finding(id, 1));
      await store.updateFindingSignals(repository, 1, { resolved: true, thumbsUp: 1 });
      await store.updateFindingSignals(repository, 2, { resolved: false, linesChanged: true, thumbsUp: 1, thumbsDown: 1 });
      await store.updateFindingSignals(repository, 3, { resolved: false, linesChanged: false, thumbsDown: 2 });
      await store.updateFindingSignals(repository, 4, { resolved: false });
      await store.markFindingsMerged(repository, 1, merged);
      // Pull request 2, merged, another routine; pull request 3, open: not counted.
      await store.recordFinding(finding(5, 2, "security"));
      await store.markFindingsMerged(repository, 2, new Date("2026-11-22T10:00:00Z"));
      await store.recordFinding(finding(6, 3));
      await store.updateFindingSignals(repository, 6, { resolved: true });
      // Another repository's findings.
      await store.recordFinding(finding(7, 1, "review", { owner: "acme", repo: "other" }));
      await store.markFindingsMerged({ owner: "acme", repo: "other" }, 1, merged);
      expect((await store.pullRequestFindings(repository, 1))[0]!.mergedAt).toEqual(merged);

      expect(await store.findingStats([repository])).toEqual([
        { repository, routine: "review", findings: 4, addressed: 2, unknown: 1, pullRequests: 1, thumbsUp: 2, thumbsDown: 3 },
        { repository, routine: "security", findings: 1, addressed: 0, unknown: 1, pullRequests: 1, thumbsUp: 0, thumbsDown: 0 },
      ]);
      expect((await store.findingStats([repository, { owner: "acme", repo: "other" }])).map((row) => `${row.repository.repo}:${row.routine}`)).toEqual(["app:review", "app:security", "other:review"]);
      expect(await store.findingStats([])).toEqual([]);
    });
  });
});
