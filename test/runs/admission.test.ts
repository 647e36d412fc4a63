import { expect, it } from "vitest";
import { StoreAdmission } from "../../src/runs/admission.js";
import type { RunRequest } from "../../src/run-request.js";
import { describeEachStore } from "../support/stores.js";

const limits = { dailyRunsPerInstallation: 100, hourlyRunsPerRoutine: 100, hourlyRunsPerInstallation: 100 };
const request = (n: number, dailyBudgetUsd?: number, routine = "triage"): RunRequest => ({
  routine,
  repository: { owner: "acme", repo: "app" },
  installationId: 1,
  configSha: "sha",
  trigger: { kind: "api", index: 0, triggerId: `trg_${n}` },
  context: { withoutSecrets: false, ...(dailyBudgetUsd === undefined ? {} : { dailyBudgetUsd }) },
});

describeEachStore("StoreAdmission and daily budgets", ({ fresh }) => {
  it("rejects a routine's new runs once its runs of the last 24 hours cost its daily budget, until they leave the window", async () => {
    const store = await fresh();
    const clock = { now: new Date("2026-11-24T10:00:00Z") };
    const admission = new StoreAdmission(store, limits, { clock: () => clock.now });
    const first = await admission.admit(request(1, 2));
    if (first.status !== "queued") throw new Error(first.status);
    await store.addRunCost(first.run.id, 1.2);
    clock.now = new Date("2026-11-24T12:00:00Z");
    const second = await admission.admit(request(2, 2));
    if (second.status !== "queued") throw new Error(second.status);
    await store.addRunCost(second.run.id, 0.8);

    clock.now = new Date("2026-11-25T09:59:59Z");
    expect(await admission.admit(request(3, 2))).toMatchObject({
      status: "rejected",
      reason:
        "daily budget of $2.00 spent (budget.daily_usd): runs of triage in acme/app cost $2.00 in the last 24 hours; new runs start when those runs are 24 hours old",
    });
    // Another routine of the repository has a budget of its own.
    expect((await admission.admit(request(4, 2, "review"))).status).toBe("queued");
    // The first run left the window: $0.80 of $2.00 spent.
    clock.now = new Date("2026-11-25T10:00:01Z");
    expect((await admission.admit(request(5, 2))).status).toBe("queued");
    await store.close();
  });

  it("takes the operator's default for routines without one, else the ceiling", async () => {
    const store = await fresh();
    const seed = await new StoreAdmission(store, limits).admit(request(1));
    if (seed.status !== "queued") throw new Error(seed.status);
    await store.addRunCost(seed.run.id, 5);
    expect((await new StoreAdmission(store, limits).admit(request(2))).status).toBe("queued");
    expect(await new StoreAdmission(store, { ...limits, budget: { dailyUsd: 5, maxDailyUsd: 50 } }).admit(request(3))).toMatchObject({ status: "rejected", reason: expect.stringContaining("daily budget of $5.00 spent (ROUTINES_BUDGET_DAILY_USD)") });
    expect(await new StoreAdmission(store, { ...limits, budget: { maxDailyUsd: 4 } }).admit(request(4))).toMatchObject({ status: "rejected", reason: expect.stringContaining("(ROUTINES_BUDGET_MAX_DAILY_USD)") });
    // The routine's own budget comes first.
    expect((await new StoreAdmission(store, { ...limits, budget: { dailyUsd: 5 } }).admit(request(5, 10))).status).toBe("queued");
    await store.close();
  });

  it("counts the budget spent once a run was stopped for want of what was left of it", async () => {
    const store = await fresh();
    const admission = new StoreAdmission(store, limits);
    const first = await admission.admit(request(1, 1));
    if (first.status !== "queued") throw new Error(first.status);
    await store.addRunCost(first.run.id, 0.9);
    await store.transition(first.run.id, ["queued"], { status: "completed", stopReason: "daily_budget" });
    expect(await admission.admit(request(2, 1))).toMatchObject({
      status: "rejected",
      reason: "daily budget of $1.00 spent (budget.daily_usd): runs of triage in acme/app cost $0.90 in the last 24 hours, too little left for a model call; new runs start when those runs are 24 hours old",
    });
    await store.close();
  });
});
