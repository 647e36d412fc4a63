// Schedule triggers → RunRequests. Recurring schedules are node-cron tasks in the schedule's time
// zone. A one-off `at` fires once, ever: its state is kept in the store before the run is
// admitted, so a restart never fires it again; one missed while the server was down fires at
// start when it is less than the grace period late, and is otherwise recorded as missed.
import cron, { type ScheduledTask } from "node-cron";
import { scheduleCron, scheduleInstant, timezoneOf } from "../config/schedule.js";
import { requiredSecrets } from "../config/environment-of.js";
import type { Environment, Routine } from "../config/schema.js";
import type { Admission } from "../runs/admission.js";
import type { RepositoryId, RunRequest } from "../run-request.js";
import type { RunStore } from "../runs/store.js";

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

interface Registered {
  installationId: number;
  stop: Array<() => void>;
}

/** setTimeout caps delays at about 24.8 days; longer waits go in steps. */
const MAX_DELAY = 2_147_483_647;
function setLongTimeout(fire: () => void, delay: number, handles: { current?: NodeJS.Timeout }): void {
  handles.current = setTimeout(() => (delay > MAX_DELAY ? setLongTimeout(fire, delay - MAX_DELAY, handles) : fire()), Math.min(delay, MAX_DELAY));
  handles.current.unref();
}

const repositoryKey = ({ owner, repo }: RepositoryId) => `${owner}/${repo}`.toLowerCase();

export class Scheduler {
  readonly #registered = new Map<string, Registered>();

  constructor(private readonly options: SchedulerOptions) {}

  /** Replaces the repository's schedules with those of its routines. */
  async register(target: ScheduleTarget): Promise<void> {
    this.unregister(target.repository);
    const registered: Registered = { installationId: target.installationId, stop: [] };
    for (const [routine, { triggers = [] }] of Object.entries(target.routines)) {
      for (const [index, trigger] of triggers.entries()) {
        if (!trigger.schedule) continue;
        const expression = scheduleCron(trigger.schedule);
        const instant = scheduleInstant(trigger.schedule);
        if (expression !== undefined) {
          const task = cron.createTask(expression, ({ date }) => this.#fire(target, routine, index, date, false), {
            timezone: timezoneOf(trigger.schedule),
            name: `${repositoryKey(target.repository)}:${routine}:${index}`,
          });
          await task.start();
          registered.stop.push(() => void task.destroy());
        } else if (instant) {
          await this.#registerOneOff(target, routine, index, instant, registered);
        }
      }
    }
    if (registered.stop.length > 0) this.#registered.set(repositoryKey(target.repository), registered);
  }

  unregister(repository: RepositoryId): void {
    const key = repositoryKey(repository);
    for (const stop of this.#registered.get(key)?.stop ?? []) stop();
    this.#registered.delete(key);
  }

  unregisterInstallation(installationId: number): void {
    for (const [key, registered] of this.#registered) {
      if (registered.installationId !== installationId) continue;
      for (const stop of registered.stop) stop();
      this.#registered.delete(key);
    }
  }

  /** Repositories with schedules, as owner/name. */
  get repositories(): string[] {
    return [...this.#registered.keys()];
  }

  stop(): void {
    for (const { stop } of this.#registered.values()) for (const halt of stop) halt();
    this.#registered.clear();
  }

  async #registerOneOff(target: ScheduleTarget, routine: string, index: number, instant: Date, registered: Registered): Promise<void> {
    const key = `once:${repositoryKey(target.repository)}:${routine}:${instant.toISOString()}`;
    if ((await this.options.store.oneOffState(key)) !== undefined) return;
    const late = this.#now().getTime() - instant.getTime();
    if (late > this.options.oneOffGrace) {
      await this.options.store.recordOneOff(key, "missed", this.#now());
      return;
    }
    const handles: { current?: NodeJS.Timeout } = {};
    setLongTimeout(() => void this.#fireOnce(target, routine, index, instant, key), Math.max(0, -late), handles);
    registered.stop.push(() => clearTimeout(handles.current));
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
        context: { withoutSecrets: false, requiredSecrets: requiredSecrets(target.routines[routine], target.environments ?? {}, false) },
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
