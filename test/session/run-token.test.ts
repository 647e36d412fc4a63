import { describe, expect, it } from "vitest";
import { RunToken, RunTokens, type MintedToken } from "../../src/session/run-token.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5_000) throw new Error("timed out waiting");
    await sleep(10);
  }
};

/** A GitHub that mints numbered tokens living `lifetimeMs`, and remembers what was revoked. */
function github(lifetimeMs: number, { failFirstRefresh = false } = {}) {
  let minted = 0;
  let failed = false;
  const revoked: string[] = [];
  const stored = new Map<string, Date>();
  const expiries = new Map<string, number>();
  return {
    revoked,
    stored,
    expiries,
    options: {
      mint: async (): Promise<MintedToken> => {
        if (failFirstRefresh && minted === 1 && !failed) {
          failed = true;
          throw new Error("GitHub is down");
        }
        minted += 1;
        expiries.set(`ghs_${minted}`, Date.now() + lifetimeMs);
        return { token: `ghs_${minted}`, expiresAt: new Date(Date.now() + lifetimeMs) };
      },
      revoke: async (token: string) => void revoked.push(token),
      tokens: { issued: async (token: string, at: Date) => void stored.set(token, at), revoked: async (token: string) => void stored.delete(token) },
      retryMs: 20,
    },
  };
}

describe("RunToken", () => {
  it("refreshes the token before it expires, and revokes every unexpired one at the end", async () => {
    const { options, revoked, stored, expiries } = github(400);
    const token = await RunToken.mint(options);
    expect(token.current).toBe("ghs_1");
    await until(() => token.current === "ghs_2");
    // Refreshed with time to spare: the first token is still valid.
    expect(expiries.get("ghs_1")!).toBeGreaterThan(Date.now());
    expect([...stored.keys()]).toEqual(["ghs_1", "ghs_2"]);
    await until(() => token.current === "ghs_3");
    const at = Date.now();
    await token.revoke();
    // Expired tokens need no revoking; the others are revoked, and none stays in the store.
    expect(revoked).toEqual(["ghs_1", "ghs_2", "ghs_3"].filter((name) => expiries.get(name)! > at));
    expect(revoked).toContain("ghs_3");
    expect(stored.size).toBe(0);
    await sleep(400);
    expect(token.current).toBe("ghs_3");
  });

  it("tries a failed refresh again while the token is still valid", async () => {
    const errors: unknown[] = [];
    const { options } = github(200, { failFirstRefresh: true });
    const token = await RunToken.mint({ ...options, onRefreshError: (error) => errors.push(error) });
    await until(() => token.current === "ghs_2");
    expect(errors).toHaveLength(1);
    await token.revoke();
  });
});

describe("RunTokens", () => {
  it("keeps one token per scope, redacts and revokes them all together", async () => {
    const own = github(60_000);
    const shared = github(60_000);
    const tokens = new RunTokens();
    const first = await tokens.mint(own.options);
    const second = await tokens.mint({ ...shared.options, mint: async () => ({ ...(await shared.options.mint()), token: "ghs_shared" }) });
    expect([first.current, second.current]).toEqual(["ghs_1", "ghs_shared"]);
    expect(tokens.all).toEqual(["ghs_1", "ghs_shared"]);
    await tokens.revoke();
    expect(own.revoked).toEqual(["ghs_1"]);
    expect(shared.revoked).toEqual(["ghs_shared"]);
  });

  it("revokes the tokens it minted when a later scope cannot be minted", async () => {
    const own = github(60_000);
    const tokens = new RunTokens();
    await tokens.mint(own.options);
    await expect(tokens.mint({ ...own.options, mint: async () => Promise.reject(new Error("no such repository")) })).rejects.toThrow("no such repository");
    expect(own.revoked).toEqual(["ghs_1"]);
    expect(own.stored.size).toBe(0);
  });
});
