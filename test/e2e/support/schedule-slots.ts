// What the schedule fault tests read back from the runs table: each scheduled run by its routine
// and the slot (the minute or one-off time) it ran for.

export interface SlotRun {
  routine: string;
  /** The slot's time as the trigger names it, or the trigger's kind for other runs. */
  slot: string;
  status: string;
}

export const slotOf = (at: number) => new Date(at).toISOString();
const slotKey = (run: SlotRun) => `${run.routine}@${run.slot}`;

/** Whether each of `expected` (`routine@slot`) has a completed run. */
export const everySlotCompleted = (runs: SlotRun[], expected: string[]) => expected.every((slot) => runs.some((run) => slotKey(run) === slot && run.status === "completed"));

/** How many runs each `routine@slot` made. */
export function runsPerSlot(runs: SlotRun[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(slotKey(run), (counts.get(slotKey(run)) ?? 0) + 1);
  return counts;
}
