// Cancel, from any process: a queued run is cancelled in the store at once; a running one gets a
// `cancel_requested` event in its transcript, which the process running its session hears of (as
// a transcript signal, or at its next lease renewal if the signal was lost) and stops the session.
import type { RunEvents } from "./run-events.js";
import type { RunObserver } from "./run-observer.js";
import type { RunStore } from "./store.js";

/** The transcript event that asks the process running a session to stop it; its data is `{ reason }`. */
export const CANCEL_REQUESTED = "cancel_requested";

export interface CancelDeps {
  store: RunStore;
  events: RunEvents;
  /** Told of a queued run cancelled here; a running run's end is told by the process that ran it. */
  observer?: RunObserver;
  onError?: (error: unknown) => void;
  clock?: () => Date;
}

/** Cancels a queued run, or asks for a running one to be stopped; false when the run is neither. */
export async function cancelRun(deps: CancelDeps, runId: string, reason: string): Promise<boolean> {
  const { store, events } = deps;
  const now = deps.clock?.() ?? new Date();
  if (await store.transition(runId, ["queued"], { status: "cancelled", reason, finishedAt: now })) {
    const run = await store.getRun(runId);
    if (run) await deps.observer?.finished?.(run).catch((error: unknown) => deps.onError?.(error));
    return true;
  }
  if ((await store.getRun(runId))?.status !== "running") return false;
  const seq = await store.appendEvent(runId, CANCEL_REQUESTED, { reason }, now);
  events.event(runId, { seq, at: now, kind: CANCEL_REQUESTED, data: { reason } });
  return true;
}

/** The reason of a cancel request, when the event is one. */
export function cancelReason(kind: string, data: unknown): string | undefined {
  if (kind !== CANCEL_REQUESTED) return undefined;
  const reason = (data as { reason?: unknown } | null)?.reason;
  return typeof reason === "string" ? reason : "cancelled by a user";
}
