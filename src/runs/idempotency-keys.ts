// Idempotency keys of API fires (the Idempotency-Key header): a retried fire with the same key
// answers with the run the first one started. The store keeps the key only hashed together with
// the trigger id, since a caller may put meaning (an alert id, a host name) into it.
import { createHash } from "node:crypto";

/** How long a key names its run: a retry after this starts a new one. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** A key claimed this long ago and still unanswered belongs to a fire that died with its process. */
export const ABANDONED_CLAIM_MS = 5 * 60 * 1000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** What a fire with this key answered, once it started a run. */
export interface IdempotentAnswer {
  status: number;
  /** The JSON body, as sent. */
  body: string;
}

/** A key as the store keeps it: claimed by a fire, and answered once that fire started its run. */
export interface IdempotencyRecord {
  keyHash: string;
  /** What the request asked for, so the same key with another request is told apart. */
  fingerprint: string;
  claimedAt: Date;
  answer?: IdempotentAnswer;
}

/** The key's hash, scoped to the trigger (one trigger id, one token): keys of different tokens never meet. */
export const hashIdempotencyKey = (triggerId: string, key: string) => createHash("sha256").update(triggerId).update("\0").update(key).digest("hex");

/** A request's fingerprint: the hash of what it asks the run to do. */
export const fingerprintOf = (request: unknown) => createHash("sha256").update(JSON.stringify(request)).digest("hex");
