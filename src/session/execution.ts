// What the run engine asks of a session: execute a run, report its result, record its steps.
import type { RunRequest, TokenUsage } from "../run-request.js";

export type RunOutcome = "succeeded" | "failed" | "unknown";

export interface RunResult {
  outcome: RunOutcome;
  summary?: string;
  usage?: TokenUsage;
  /** What the model calls cost, in dollars, when the model's price is known. */
  costUsd?: number;
  /** How the session ended; "model_error" means the model API failed, which the run engine records as errored. */
  stopReason?: string;
  /** Why, in words, when the session stopped short of an outcome. */
  detail?: string;
}

export interface ExecutionContext {
  /** Aborted when the run is cancelled or the server stops. */
  signal: AbortSignal;
  /** Appends an event to the run's transcript. */
  record(kind: string, data: unknown): Promise<void>;
  /** Adds a model call's cost to the run's, as it comes. */
  spent?(costUsd: number): Promise<void>;
  /** What the routine's runs in the run's repository created since the time have cost, in dollars (this run's so far included). */
  routineCost?(since: Date): Promise<number>;
  /** The pull request head that the routine's last successful run on the run's pull request looked at. */
  lastReviewedCommit?(): Promise<string | undefined>;
  /** Told of every credential minted for the run and of its revocation, so a crash cannot leave one alive. */
  tokens?: {
    issued(token: string, expiresAt: Date): Promise<void>;
    revoked(token: string): Promise<void>;
  };
}

/** Runs one agent session; the session side implements it. */
export interface RunExecutor {
  execute(run: RunRequest & { id: string }, context: ExecutionContext): Promise<RunResult>;
}
