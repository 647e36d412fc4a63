// When a failed write to GitHub is tried again, shared by the outboxes that publish from the store.

/** How an outbox retries: the wait before attempt `attempts + 1`, and how many failures it takes. */
export interface RetryPolicy {
  backoffMs?: (attempts: number) => number;
  /** Failed attempts after which a write is given up. */
  maxAttempts?: number;
}

/** 1 s, 2 s, 4 s, … up to 5 minutes, with up to a fifth more at random so retries spread out. */
export const defaultBackoff = (attempts: number) => {
  const base = Math.min(1_000 * 2 ** attempts, 300_000);
  return base + Math.floor(Math.random() * base * 0.2);
};

/**
 * Worth another try: GitHub failing (5xx), a rate limit (429, or 403 with no requests left or a
 * secondary limit), or no answer at all (the network). Other refusals will not change.
 */
export function isTransient(error: unknown): boolean {
  const { status, message, response } = error as { status?: unknown; message?: unknown; response?: { headers?: Record<string, unknown> } };
  if (typeof status !== "number") return true;
  if (status >= 500 || status === 429) return true;
  return status === 403 && (response?.headers?.["x-ratelimit-remaining"] === "0" || /rate limit/i.test(String(message)));
}

/** When to try a write again after its attempt failed with `error`; undefined: give it up. */
export function retryAt(error: unknown, attempts: number, policy: RetryPolicy, now: Date): Date | undefined {
  if (!isTransient(error) || attempts + 1 >= (policy.maxAttempts ?? 20)) return undefined;
  return new Date(now.getTime() + (policy.backoffMs ?? defaultBackoff)(attempts));
}
