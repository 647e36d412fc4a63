// Publishes check-run states from the store's outbox to GitHub: per check run in order, only the
// newest state (an older one is never sent after a newer one), retried with backoff when GitHub or
// the network fails, and resumed after a restart from whatever the store still holds.
import type { Octokit } from "../config/read-config-file.js";
import type { PendingCheck, RunStore } from "../runs/store.js";
import { retryAt, type RetryPolicy } from "./write-retry.js";

export { defaultBackoff, isTransient } from "./write-retry.js";

/** GitHub's check-run API as the outbox uses it. */
export interface CheckRunsApi {
  /** Creates the check run in the entry's state; returns its id. */
  create(check: PendingCheck): Promise<number>;
  update(check: PendingCheck, checkRunId: number): Promise<void>;
  /** The check run an earlier creation made for this entry, when GitHub has one. */
  find(check: PendingCheck): Promise<number | undefined>;
}

/**
 * Octokit would retry a failed write by itself; the outbox retries instead, since a creation
 * that GitHub applied before failing must be looked up, not sent again.
 */
const request = { retries: 0 };

/** The check-run API through the installation's client. */
export function checkRunsApi(clientFor: (installationId: number) => Promise<Octokit>): CheckRunsApi {
  return {
    async create({ installationId, repository, name, headSha, state }) {
      const octokit = await clientFor(installationId);
      const { data } = await octokit.rest.checks.create({ ...repository, name, head_sha: headSha, ...state, request });
      return data.id;
    },
    async update({ installationId, repository, state }, checkRunId) {
      const octokit = await clientFor(installationId);
      await octokit.rest.checks.update({ ...repository, check_run_id: checkRunId, ...state, request });
    },
    async find({ installationId, repository, name, headSha, state }) {
      const octokit = await clientFor(installationId);
      const { data } = await octokit.rest.checks.listForRef({ ...repository, ref: headSha, check_name: name, filter: "all", per_page: 100, request });
      return data.check_runs.find((check) => check.external_id === state.external_id)?.id;
    },
  };
}

export interface CheckOutboxOptions extends RetryPolicy {
  /** Check runs sent at once (never two writes to the same one). */
  concurrency?: number;
  /** How often to look for states whose retry is due. */
  pollMs?: number;
  clock?: () => Date;
  /** A write failed; `retrying` says whether the state is tried again or given up. */
  onError?: (error: unknown, failed: { check?: PendingCheck; retrying: boolean }) => void;
}

export class CheckOutbox {
  readonly #sending = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #pumping: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(
    private readonly store: RunStore,
    private readonly api: CheckRunsApi,
    private readonly options: CheckOutboxOptions = {},
  ) {}

  /** Publishes what the store holds (what a stopped server left too), and from now on what is recorded. */
  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.wake(), this.options.pollMs ?? 1_000);
    this.#timer.unref();
    this.wake();
  }

  /** Looks for states to send now (again, if a look is under way: one may have been recorded since). */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    this.#pumping ??= (async () => {
      try {
        while (this.#again && !this.#stopped) {
          this.#again = false;
          await this.#pump();
        }
      } catch (error) {
        // The store could not be read: the next look (the timer's) tries again.
        this.options.onError?.(error, { retrying: true });
      } finally {
        this.#pumping = undefined;
      }
    })();
  }

  /** Sends nothing more; waits for the writes under way. What is left waits in the store. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#pumping;
    await Promise.all(this.#sending.values());
  }

  /** Publishes what is due for up to `ms` (a stopping server's last states), then stops. */
  async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    await this.stop();
  }

  /** Resolves once nothing is due or being sent, or the outbox stopped. */
  async idle(): Promise<void> {
    while (!this.#stopped) {
      await this.#pumping;
      await Promise.all(this.#sending.values());
      const due = await this.store.pendingChecks(this.#now(), 1);
      if (due.length === 0 && this.#sending.size === 0) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  async #pump(): Promise<void> {
    const concurrency = this.options.concurrency ?? 4;
    if (this.#sending.size >= concurrency) return;
    // Enough rows that those being sent do not hide the ones behind them.
    const due = await this.store.pendingChecks(this.#now(), concurrency * 2);
    for (const check of due) {
      if (this.#sending.size >= concurrency || this.#stopped) return;
      if (this.#sending.has(check.key)) continue;
      const sent = this.#send(check).finally(() => {
        this.#sending.delete(check.key);
        // A newer state of this check, or the next one in line, may be waiting.
        this.wake();
      });
      this.#sending.set(check.key, sent);
    }
  }

  async #send(check: PendingCheck): Promise<void> {
    try {
      let checkRunId = check.checkRunId;
      // The process stopped between sending a creation and recording its answer: GitHub may have it.
      if (checkRunId === undefined && check.creating) checkRunId = await this.api.find(check);
      if (checkRunId === undefined) {
        await this.store.markCheckCreating(check.key);
        checkRunId = await this.api.create(check);
      } else {
        await this.api.update(check, checkRunId);
      }
      await this.store.markCheckPublished(check.key, check.version, checkRunId);
    } catch (error) {
      const again = retryAt(error, check.attempts, this.options, this.#now());
      this.options.onError?.(error, { check, retrying: again !== undefined });
      if (again) {
        await this.store.markCheckFailed(check.key, again);
      } else {
        // Given up: this state is dropped; a newer one is still sent.
        await this.store.markCheckPublished(check.key, check.version, check.checkRunId);
      }
    }
  }
}
