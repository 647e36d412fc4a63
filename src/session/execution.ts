// What the run engine asks of a session: execute a run, report its result, record its steps.
import type { RunRequest, TokenUsage } from "../run-request.js";

export type RunOutcome = "succeeded" | "failed" | "unknown";

export interface RunResult {
  outcome: RunOutcome;
  summary?: string;
  usage?: TokenUsage;
}

export interface ExecutionContext {
  /** Aborted when the run is cancelled or the server stops. */
  signal: AbortSignal;
  /** Appends an event to the run's transcript. */
  record(kind: string, data: unknown): Promise<void>;
}

/** Runs one agent session; the session side implements it. */
export interface RunExecutor {
  execute(run: RunRequest & { id: string }, context: ExecutionContext): Promise<RunResult>;
}
