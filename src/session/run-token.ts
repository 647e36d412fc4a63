// The run's installation tokens: minted for the routine's repositories with the permissions its
// tools need, refreshed before it expires (GitHub's tokens last an hour and a run may last days),
// and revoked when the run ends. Every token minted is reported as it is issued and revoked, so a
// crash of the server cannot leave one alive (the next start revokes what the store still holds).

export interface MintedToken {
  token: string;
  expiresAt: Date;
}

export interface RunTokenOptions {
  /** Asks GitHub for a new token of the run's scope. */
  mint(): Promise<MintedToken>;
  /** Revokes a token (DELETE /installation/token with that token). */
  revoke(token: string): Promise<void>;
  /** Told of every token issued and revoked (the store keeps them until revoked). */
  tokens?: { issued(token: string, expiresAt: Date): Promise<void>; revoked(token: string): Promise<void> };
  /** A refresh that fails is tried again after this long, until the token expires. */
  retryMs?: number;
  onRefreshError?: (error: unknown) => void;
  now?: () => number;
}

/** Refresh when this share of the token's life is left (at most ten minutes before it expires). */
const REFRESH_MARGIN_MS = 10 * 60_000;

export class RunToken {
  #current: MintedToken;
  readonly #issued: MintedToken[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    first: MintedToken,
    private readonly options: RunTokenOptions,
  ) {
    this.#current = first;
    this.#issued.push(first);
    this.#schedule();
  }

  static async mint(options: RunTokenOptions): Promise<RunToken> {
    const first = await options.mint();
    await options.tokens?.issued(first.token, first.expiresAt);
    return new RunToken(first, options);
  }

  /** The token to use now. */
  get current(): string {
    return this.#current.token;
  }

  /** Every token value this run has had, for redaction. */
  get all(): string[] {
    return this.#issued.map((minted) => minted.token);
  }

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }

  #schedule(delay?: number): void {
    if (this.#closed) return;
    const left = this.#current.expiresAt.getTime() - this.#now();
    const wait = delay ?? Math.max(0, left - Math.min(REFRESH_MARGIN_MS, left / 2));
    this.#timer = setTimeout(() => void this.#refresh(), wait);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    try {
      const next = await this.options.mint();
      if (this.#closed) {
        await this.options.revoke(next.token).catch(() => undefined);
        return;
      }
      await this.options.tokens?.issued(next.token, next.expiresAt);
      // The old token is left to expire rather than revoked: a git transfer may still be using it.
      this.#issued.push(next);
      this.#current = next;
      this.#schedule();
    } catch (error) {
      this.options.onRefreshError?.(error);
      if (this.#current.expiresAt.getTime() > this.#now()) this.#schedule(this.options.retryMs ?? 15_000);
    }
  }

  /** Stops refreshing and revokes every token of the run that has not expired. */
  async revoke(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const { token, expiresAt } of this.#issued) {
      if (expiresAt.getTime() > this.#now()) await this.options.revoke(token).catch(() => undefined);
      await this.options.tokens?.revoked(token).catch(() => undefined);
    }
  }
}

/** What an auth strategy's hook gets from Octokit: its request function with the endpoint helpers. */
interface OctokitRequest {
  (endpoint: object): Promise<unknown>;
  endpoint: { merge(route: unknown, parameters?: unknown): { headers: Record<string, string | undefined> } };
}

/**
 * An Octokit auth strategy (`authStrategy: currentTokenAuth, auth: { current }`) that sends
 * whatever token `current` returns at the time of each request, so a client made once keeps
 * working across refreshes.
 */
export function currentTokenAuth({ current }: { current: () => string }) {
  const auth = async () => ({ type: "token" as const, token: current(), tokenType: "installation" as const });
  const hook = (request: OctokitRequest, route: unknown, parameters?: unknown) => {
    const endpoint = request.endpoint.merge(route, parameters);
    endpoint.headers.authorization = `token ${current()}`;
    return request(endpoint);
  };
  return Object.assign(auth, { hook });
}

/**
 * A run's tokens, one per permission set: an installation token carries one set of permissions
 * for all its repositories, so repositories shared read-only get a token of their own. Every
 * token is refreshed on its own and all are revoked together.
 */
export class RunTokens {
  readonly #tokens: RunToken[] = [];

  /** Mints a token of one scope; when it fails, the ones minted before are revoked. */
  async mint(options: RunTokenOptions): Promise<RunToken> {
    try {
      const token = await RunToken.mint(options);
      this.#tokens.push(token);
      return token;
    } catch (error) {
      await this.revoke();
      throw error;
    }
  }

  /** Every token value of the run, of every scope, for redaction. */
  get all(): string[] {
    return this.#tokens.flatMap((token) => token.all);
  }

  async revoke(): Promise<void> {
    await Promise.all(this.#tokens.map((token) => token.revoke()));
  }
}
