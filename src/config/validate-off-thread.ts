// Validation as the server runs it: off the event loop, within LIMITS.validationMs.
import { LIMITS } from "./limits.js";
import { runOffThread } from "./off-thread.js";
import type { RoutinesConfig, ValidateConfig } from "./validate.js";

const refused = (message: string): RoutinesConfig => ({ routines: {}, environments: {}, shareWith: [], problems: [{ line: 1, col: 1, path: [], message, severity: "error" }] });

/** What a file that cannot be checked within the budget gets: one problem that says which limit it met. */
export const BUDGET_PROBLEMS = {
  tooSlow: `checking this file took longer than ${LIMITS.validationMs / 1000} s, the limit; it has too many or too costly entries (filters, cron expressions)`,
  tooLarge: "checking this file needed more memory than the limit; it is too large or too deeply nested",
};

export const validateOffThread: ValidateConfig = (source, options) =>
  runOffThread(new URL("./validate-worker.js", import.meta.url), { source, options }, {
    timeoutMs: LIMITS.validationMs,
    tooSlow: () => refused(BUDGET_PROBLEMS.tooSlow),
    tooLarge: () => refused(BUDGET_PROBLEMS.tooLarge),
  });
