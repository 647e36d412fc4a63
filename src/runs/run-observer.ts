// Who hears of a run's life: check runs on pull requests, and later the dashboard. Observers
// never change the run; one that fails is reported and the run goes on.
import type { RunRecord } from "./store.js";

export interface RunObserver {
  /** Recorded as queued, rejected, or cancelled before it started (superseded). */
  admitted?(run: RunRecord): Promise<void>;
  started?(run: RunRecord): Promise<void>;
  /** Completed, errored, interrupted or cancelled. */
  finished?(run: RunRecord): Promise<void>;
  /** Interrupted by a stop of the server before it published anything, and queued again. */
  requeued?(run: RunRecord): Promise<void>;
}
