// Schedule triggers → RunRequests. Each schedule has its own slot timer (slot-timer.ts): a slot
// is never lost to a late timer, it fires late, once; several slots missed at once fire once, for
// the latest. Recurring slots come from the cron expression in the schedule's time zone
// (cron-slots.ts); those that passed while the server was down are not replayed. A one-off `at`
// fires once, ever: its state is kept in the store before the run is admitted, so a restart never
// fires it again; one missed while the server was down fires at start when it is less than the
// grace period late, and is otherwise recorded as missed.
//
// Several processes on one database each run every timer, and a slot still makes one run: the
// store records a scheduled run under its routine and minute (admission's dedupe key, unique in
// the runs table, written in the admission's transaction), so of the processes that fire a slot,
// or catch it up late, one records the run and the others find it there. A one-off's fate is
// recorded once (a unique key) before it is admitted, so one process fires it or records it missed.
import { scheduleCron, scheduleInstant, timezoneOf } from "../config/schedule.js";
import { routineFacts } from "../config/environment-of.js";
import type { Environment, Routine } from "../config/schema.js";
import type { Admission } from "../runs/admission.js";
import type { RepositoryId, RunRequest } from "../run-request.js";
import type { RunStore } from "../runs/store.js";
import { cronSlots } from "../config/cron-slots.js";
import { startSlotTimer } from "./slot-timer.js";

export interface ScheduleTarget {
  repository: RepositoryId;
  installationId: number;
  configSha: string;
  routines: Record<string, Routine>;
  environments?: Record<string, Environment>;
}

export interface SchedulerOptions {
  store: RunStore;
  admission: Admission;
  /** How late a missed one-off may still fire at start, in milliseconds. */
  oneOffGrace: number;
  now?: () => Date;
  onError?: (error: unknown, where: string) => void;
}

/** A repository's schedules, registered or still being registered. */
interface Registration {
  installationId: number;
  stop: Array<() => void>;
  cancelled: boolean;
}

const repositoryKey = ({ owner, repo }: RepositoryId) => `${owner}/${repo}`.toLowerCase();

export class Scheduler {
  /** The latest registration of each repository; one in progress is there too, so it can be cancelled. */
  readonly #registrations = new Map<string, Registration>();

  constructor(private readonly options: SchedulerOptions) {}

  /** Replaces the repository's schedules with those of its routines. */
  async register(target: ScheduleTarget): Promise<void> {
    const key = repositoryKey(target.repository);
    this.#cancel(key);
    const registration: Registration = { installationId: target.installationId, stop: [], cancelled: false };
    this.#registrations.set(key, registration);
    for (const [routine, { triggers = [] }] of Object.entries(target.routines)) {
      for (const [index, trigger] of triggers.entries()) {
        if (!trigger.schedule) continue;
        const expression = scheduleCron(trigger.schedule);
        const instant = scheduleInstant(trigger.schedule);
        if (expression !== undefined) {
          try {
            this.#registerRecurring(target, routine, index, expression, timezoneOf(trigger.schedule), registration);
          } catch (error) {
            // One schedule the matcher refuses does not stop the repository's others.
            this.options.onError?.(error, `${key}:${routine}`);
          }
        } else if (instant) {
          await this.#registerOneOff(target, routine, index, instant, registration);
          // Replaced or removed while the store was asked: what this call started must not run on.
          if (registration.cancelled) return this.#halt(registration);
        }
      }
    }
    if (registration.stop.length === 0 && this.#registrations.get(key) === registration) this.#registrations.delete(key);
  }

  unregister(repository: RepositoryId): void {
    this.#cancel(repositoryKey(repository));
  }

  unregisterInstallation(installationId: number): void {
    for (const [key, registration] of this.#registrations) {
      if (registration.installationId === installationId) this.#cancel(key);
    }
  }

  /** Repositories with schedules, as owner/name. */
  get repositories(): string[] {
    return [...this.#registrations].filter(([, registration]) => registration.stop.length > 0).map(([key]) => key);
  }

  stop(): void {
    for (const key of [...this.#registrations.keys()]) this.#cancel(key);
  }

  #cancel(key: string): void {
    const registration = this.#registrations.get(key);
    if (!registration) return;
    registration.cancelled = true;
    this.#halt(registration);
    this.#registrations.delete(key);
  }

  #halt(registration: Registration): void {
    for (const stop of registration.stop.splice(0)) stop();
  }

  #registerRecurring(target: ScheduleTarget, routine: string, index: number, expression: string, timezone: string, registration: Registration): void {
    const slots = cronSlots(expression, timezone);
    const stop = startSlotTimer({
      // Counted from now: slots that passed before registration (the server was down) are not replayed.
      first: slots.after(this.#now()),
      after: (slot) => slots.after(slot),
      now: () => this.#now(),
      onSlot: (slot) => void this.#fire(target, routine, index, slot, false),
      onError: (error) => this.options.onError?.(error, `${repositoryKey(target.repository)}:${routine}`),
    });
    registration.stop.push(() => {
      stop();
      slots.dispose();
    });
  }

  async #registerOneOff(target: ScheduleTarget, routine: string, index: number, instant: Date, registration: Registration): Promise<void> {
    const key = `once:${repositoryKey(target.repository)}:${routine}:${instant.toISOString()}`;
    if ((await this.options.store.oneOffState(key)) !== undefined) return;
    const late = this.#now().getTime() - instant.getTime();
    if (late > this.options.oneOffGrace) {
      await this.options.store.recordOneOff(key, "missed", this.#now());
      return;
    }
    registration.stop.push(
      startSlotTimer({
        first: instant,
        after: () => undefined,
        now: () => this.#now(),
        onSlot: () => void this.#fireOnce(target, routine, index, instant, key),
        onError: (error) => this.options.onError?.(error, key),
      }),
    );
  }

  async #fireOnce(target: ScheduleTarget, routine: string, index: number, instant: Date, key: string): Promise<void> {
    try {
      // Recorded before the run is admitted: a crash in between loses the run rather than doubling it.
      if (!(await this.options.store.recordOneOff(key, "fired", this.#now()))) return;
      await this.#fire(target, routine, index, instant, true);
    } catch (error) {
      this.options.onError?.(error, key);
    }
  }

  async #fire(target: ScheduleTarget, routine: string, index: number, at: Date, oneOff: boolean): Promise<void> {
    try {
      // A disabled installation's schedules stay quiet rather than filling the store with rejections.
      if (await this.options.store.isInstallationDisabled(target.installationId)) return;
      const scheduledFor = new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();
      const request: RunRequest = {
        routine,
        repository: target.repository,
        installationId: target.installationId,
        configSha: target.configSha,
        trigger: { kind: "schedule", index, scheduledFor, oneOff },
        context: { withoutSecrets: false, ...routineFacts(target.routines[routine], target.environments ?? {}, false) },
      };
      await this.options.admission.admit(request);
    } catch (error) {
      this.options.onError?.(error, `${repositoryKey(target.repository)}:${routine}`);
    }
  }

  #now(): Date {
    return this.options.now?.() ?? new Date();
  }
}
