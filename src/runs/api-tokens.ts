// Bearer tokens for api triggers. A token is shown once when created; the store keeps only its
// SHA-256 hash (tokens are 256 random bits, so a fast hash is enough), compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { RepositoryId } from "../run-request.js";

export interface ApiToken {
  /** Public id in the fire URL, e.g. trg_3f9a…; not a secret. */
  triggerId: string;
  repository: RepositoryId;
  routine: string;
  tokenHash: string;
  createdAt: Date;
  revokedAt?: Date;
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

export function newApiToken(repository: RepositoryId, routine: string, now = new Date()): { token: string; record: ApiToken } {
  const token = `rtn_${randomBytes(32).toString("base64url")}`;
  const record = { triggerId: `trg_${randomBytes(8).toString("hex")}`, repository, routine, tokenHash: hashToken(token), createdAt: now };
  return { token, record };
}

/** Whether `presented` is the token whose hash is stored; the same work whatever is presented. */
export function tokenMatches(presented: string, tokenHash: string): boolean {
  const expected = Buffer.from(tokenHash, "hex");
  const actual = createHash("sha256").update(presented).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
