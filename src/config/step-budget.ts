// A count of matching steps that one event may spend on filters: however many triggers and
// patterns a file has and however long a pull request body is, matching stops at the budget.

export class StepBudgetExceeded extends Error {
  override name = "StepBudgetExceeded";
  constructor(readonly limit: number) {
    super(`matching took more than ${limit.toLocaleString("en-US")} steps`);
  }
}

export class StepBudget {
  #left: number;

  constructor(readonly limit: number) {
    this.#left = limit;
  }

  /** Takes `steps`; throws StepBudgetExceeded once the budget is gone. */
  spend(steps: number): void {
    this.#left -= steps;
    if (this.#left < 0) throw new StepBudgetExceeded(this.limit);
  }
}
