// A routines cache that follows the signals: a push that changed a repository's `.claude/`, in
// whichever process received it, has this process read the file again; after signals may have
// been missed, every repository's.
import type { RoutinesCache } from "../config/routines-cache.js";
import type { Signals } from "./signals.js";

export function followRoutineChanges(signals: Signals, routines: Pick<RoutinesCache, "invalidate" | "invalidateAll">): () => void {
  return signals.subscribe((signal) => {
    if (signal.type === "routines") routines.invalidate(signal.repository);
    else if (signal.type === "resync") routines.invalidateAll();
  });
}
