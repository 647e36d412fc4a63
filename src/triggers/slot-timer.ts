// One timer per schedule that loses no slot to a late wake-up. Whatever woke it, it reads the clock
// and fires the slot it was waiting for however late it is: a timer can be late because a long
// synchronous job held the event loop, the machine was suspended, or the clock was stepped forward.
//
// Late by several slots, it fires once, for the latest slot that is due, and skips the others.
// That is what a user of a recurring schedule wants: "nightly", "every 15 minutes" describe how
// fresh the work should be, and runs back to back would repeat the same work on the same commit,
// spend the model budget several times and count against the run caps. It is also how
// Kubernetes CronJobs and systemd's persistent timers catch up. A run is therefore never more than
// one period late, and its `scheduledFor` names the slot it stands for.

/** Longest single wait: a clock stepped forward or a machine back from sleep is noticed within it. */
export const MAX_WAIT = 60_000;
const MINUTE = 60_000;

export interface SlotTimerOptions {
  /** The first slot to fire; none when undefined. */
  first: Date | undefined;
  /** The slot after `slot`; undefined when no more come. */
  after: (slot: Date) => Date | undefined;
  now: () => Date;
  onSlot: (slot: Date) => void;
  onError: (error: unknown) => void;
  maxWait?: number;
}

/** Starts the timer; the function returned stops it. The timer never keeps the process alive. */
export function startSlotTimer(options: SlotTimerOptions): () => void {
  const { after, now, onSlot, onError, maxWait = MAX_WAIT } = options;
  let due = options.first;
  let handle: NodeJS.Timeout | undefined;
  let stopped = false;

  const arm = () => {
    if (stopped || due === undefined) return;
    handle = setTimeout(wake, Math.min(Math.max(due.getTime() - now().getTime(), 0), maxWait));
    handle.unref();
  };
  const wake = () => {
    if (stopped || due === undefined) return;
    const at = now();
    // Woken before the slot: a capped wait, or the clock went back. Slots are fired in order, so
    // a clock going back means a longer wait, never a slot fired twice.
    if (at < due) return arm();
    try {
      const slot = latestDue(due, at, after);
      due = after(slot);
      arm();
      onSlot(slot);
    } catch (error) {
      onError(error);
    }
  };

  arm();
  return () => {
    stopped = true;
    clearTimeout(handle);
  };
}

/** The latest slot due at `at`, counting from `first`, the earliest one not yet fired. */
export function latestDue(first: Date, at: Date, after: (slot: Date) => Date | undefined): Date {
  let slot = first;
  // Look back from `at` in doubling windows first, so that waking after a long suspension costs a
  // few look-ups instead of a walk over every slot missed.
  for (let window = MINUTE; at.getTime() - window > slot.getTime(); window *= 2) {
    const recent = after(new Date(at.getTime() - window));
    if (recent !== undefined && recent <= at) {
      slot = recent;
      break;
    }
  }
  for (let next = after(slot); next !== undefined && next <= at; next = after(slot)) slot = next;
  return slot;
}
