// Run tokens that a crash of the server left alive: the store keeps every run's tokens until they
// are revoked, so the next start revokes what is left (GitHub would let them live up to an hour).
import type { Octokit } from "../config/read-config-file.js";
import type { RunStore } from "../runs/store.js";

/** Revokes every unexpired run token the store still holds; resolves to how many were revoked. */
export async function revokeLeftoverTokens(store: RunStore, octokitForToken: (token: string) => Octokit, onError: (error: unknown) => void): Promise<number> {
  let revoked = 0;
  for (const { token } of await store.liveRunTokens(new Date())) {
    try {
      await octokitForToken(token).rest.apps.revokeInstallationAccessToken();
      revoked += 1;
    } catch (error) {
      // 401: already expired or revoked, which is what we wanted.
      if ((error as { status?: number }).status !== 401) onError(error);
    }
    await store.forgetRunToken(token);
  }
  return revoked;
}
