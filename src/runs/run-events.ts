// What happens to runs as it happens, for whoever watches a run live (the dashboard's event
// stream): each transcript event as it is recorded, and each change of status.
import type { RunRecord, TranscriptEvent } from "./store.js";

export type RunUpdate = { type: "event"; event: TranscriptEvent } | { type: "status"; run: RunRecord };

export class RunEvents {
  readonly #watchers = new Map<string, Set<(update: RunUpdate) => void>>();

  /** Follows one run; returns the way to stop. */
  watch(runId: string, watcher: (update: RunUpdate) => void): () => void {
    let watchers = this.#watchers.get(runId);
    if (!watchers) this.#watchers.set(runId, (watchers = new Set()));
    watchers.add(watcher);
    return () => {
      watchers.delete(watcher);
      if (watchers.size === 0) this.#watchers.delete(runId);
    };
  }

  event(runId: string, event: TranscriptEvent): void {
    this.#tell(runId, { type: "event", event });
  }

  status(run: RunRecord): void {
    this.#tell(run.id, { type: "status", run });
  }

  #tell(runId: string, update: RunUpdate): void {
    for (const watcher of this.#watchers.get(runId) ?? []) watcher(update);
  }
}
