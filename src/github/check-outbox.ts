// Publishes check-run states from the store's outbox to GitHub: per check run in order, only the
// newest state (an older one is never sent after a newer one), retried with backoff when GitHub or
// the network fails, and resumed after a restart from whatever the store still holds.
import type { Octokit } from "../config/read-config-file.js";
import type { ItemClaim, PendingCheck, RunStore } from "../runs/store.js";
import { Outbox, type OutboxOptions } from "./outbox.js";
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

export interface CheckOutboxOptions extends RetryPolicy, OutboxOptions {
  /** A write failed; `retrying` says whether the state is tried again or given up. */
  onError?: (error: unknown, failed: { check?: PendingCheck; retrying: boolean }) => void;
}

export class CheckOutbox extends Outbox<PendingCheck> {
  constructor(
    private readonly store: RunStore,
    private readonly api: CheckRunsApi,
    private readonly options: CheckOutboxOptions = {},
  ) {
    super(options, { store, queue: "checks" });
  }

  protected due(now: Date, limit: number): Promise<PendingCheck[]> {
    return this.store.pendingChecks(now, limit);
  }

  protected claim(now: Date, limit: number, claim: ItemClaim): Promise<PendingCheck[]> {
    return this.store.claimChecks(now, limit, claim);
  }

  protected keyOf(item: PendingCheck): string {
    return item.key;
  }

  /** Never two writes to the same check run at once. */
  protected laneOf(check: PendingCheck): string {
    return check.key;
  }

  protected lookFailed(error: unknown): void {
    this.options.onError?.(error, { retrying: true });
  }

  protected async send(check: PendingCheck): Promise<void> {
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
      const again = retryAt(error, check.attempts, this.options, this.now());
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
