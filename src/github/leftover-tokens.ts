// Run tokens that a crash of the server left alive: the store keeps every run's tokens until they
// are revoked, so the next start revokes what is left of finished runs, and a process that takes
// over a dead process's run revokes that run's (GitHub would let them live up to an hour).
import type { Octokit } from "../config/read-config-file.js";
import type { RunStore, RunToken } from "../runs/store.js";

/**
 * Revokes every unexpired token the store still holds of runs not running (those of running runs
 * are revoked when their run is taken over: see revokeRunTokens); resolves to how many were revoked.
 */
export async function revokeLeftoverTokens(store: RunStore, octokitForToken: (token: string) => Octokit, onError: (error: unknown) => void): Promise<number> {
  return revoke(store, await store.liveRunTokens(new Date()), octokitForToken, onError);
}

/** Revokes the tokens a run taken over from a stopped or hung process left; resolves to how many were revoked. */
export async function revokeRunTokens(store: RunStore, runId: string, octokitForToken: (token: string) => Octokit, onError: (error: unknown) => void): Promise<number> {
  const now = Date.now();
  return revoke(store, (await store.runTokens(runId)).filter((token) => token.expiresAt.getTime() > now), octokitForToken, onError);
}

async function revoke(store: RunStore, tokens: RunToken[], octokitForToken: (token: string) => Octokit, onError: (error: unknown) => void): Promise<number> {
  let revoked = 0;
  for (const { token } of tokens) {
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
