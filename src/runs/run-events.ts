// What happens to runs as it happens, for whoever watches a run live (the dashboard's event
// stream): each transcript event as it is recorded, and each change of status, whichever process
// runs the session. Both go out as signals (signals.ts) and come back here in every process; a
// watcher hears of the runs it follows.
import type { RunRecord, RunStore, TranscriptEvent } from "./store.js";
import type { Signals } from "./signals.js";

export type RunUpdate =
  /** A transcript event; without one, events may be in the store that the watcher has not seen: it reads them. */
  | { type: "event"; event?: TranscriptEvent }
  | { type: "status"; run: RunRecord };

type Watcher = (update: RunUpdate) => void;

export class RunEvents {
  readonly #watchers = new Map<string, Set<Watcher>>();

  constructor(
    private readonly signals: Signals,
    private readonly store: Pick<RunStore, "getRun">,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    signals.subscribe((signal) => {
      if (signal.type === "transcript") this.#tell(signal.runId, signal.event ? { type: "event", event: signal.event } : { type: "event" });
      else if (signal.type === "status") void this.#tellStatus(signal.runId);
      else if (signal.type === "resync") {
        for (const runId of this.#watchers.keys()) {
          this.#tell(runId, { type: "event" });
          void this.#tellStatus(runId);
        }
      }
    });
  }

  /** Follows one run; returns the way to stop. */
  watch(runId: string, watcher: Watcher): () => void {
    let watchers = this.#watchers.get(runId);
    if (!watchers) this.#watchers.set(runId, (watchers = new Set()));
    watchers.add(watcher);
    return () => {
      watchers.delete(watcher);
      if (watchers.size === 0) this.#watchers.delete(runId);
    };
  }

  /** A transcript event was recorded: every process's watchers of the run hear of it. */
  event(runId: string, event: TranscriptEvent): void {
    this.signals.publish({ type: "transcript", runId, seq: event.seq, kind: event.kind, event });
  }

  /** The run's status changed: every process's watchers of the run hear of it. */
  status(run: RunRecord): void {
    this.signals.publish({ type: "status", runId: run.id });
  }

  /** The run as the store has it now, read once for all its watchers here. */
  async #tellStatus(runId: string): Promise<void> {
    if (!this.#watchers.has(runId)) return;
    try {
      const run = await this.store.getRun(runId);
      if (run) this.#tell(runId, { type: "status", run });
    } catch (error) {
      this.onError(error);
    }
  }

  #tell(runId: string, update: RunUpdate): void {
    for (const watcher of this.#watchers.get(runId) ?? []) watcher(update);
  }
}
