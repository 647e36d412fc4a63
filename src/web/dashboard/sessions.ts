// Dashboard sessions: a random id in a signed, HttpOnly, SameSite cookie; the store keeps only the
// id's hash with what GitHub said at sign-in, and a CSRF token that every form sends back.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RunStore } from "../../runs/store.js";
import { parseCookies, serializeCookie, type CookieOptions } from "../http.js";
import type { Viewer } from "./viewer.js";

export const SESSION_COOKIE = "routines_session";
const STATE_COOKIE = "routines_sign_in";
/** As long as GitHub's user tokens last: permissions read at sign-in are that old at most. */
const SESSION_SECONDS = 8 * 60 * 60;
const STATE_SECONDS = 10 * 60;

export interface DashboardSession {
  idHash: string;
  viewer: Viewer;
  csrf: string;
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex");

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class Sessions {
  constructor(
    private readonly store: RunStore,
    private readonly secret: string,
    private readonly options: { secure: boolean; now?: () => Date },
  ) {}

  /** Records a session for the viewer; returns its Set-Cookie header. */
  async start(viewer: Viewer): Promise<string> {
    const id = randomBytes(32).toString("base64url");
    const now = this.#now();
    const data = JSON.stringify({ viewer, csrf: randomBytes(32).toString("base64url") });
    await this.store.createSession({ idHash: hash(id), data, createdAt: now, expiresAt: new Date(now.getTime() + SESSION_SECONDS * 1000) });
    return serializeCookie(SESSION_COOKIE, this.#sign(id), this.#cookie("/dashboard", SESSION_SECONDS));
  }

  async read(req: IncomingMessage): Promise<DashboardSession | undefined> {
    const id = this.#unsign(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    if (!id) return undefined;
    const stored = await this.store.getSession(hash(id), this.#now());
    if (!stored) return undefined;
    const { viewer, csrf } = JSON.parse(stored.data) as { viewer: Viewer; csrf: string };
    return { idHash: stored.idHash, viewer, csrf };
  }

  /** Forgets the session; returns the Set-Cookie header that clears it. */
  async end(session: DashboardSession | undefined): Promise<string> {
    if (session) await this.store.deleteSession(session.idHash);
    return serializeCookie(SESSION_COOKIE, "", this.#cookie("/dashboard", 0));
  }

  /** Whether a form carries the session's CSRF token. */
  csrfMatches(session: DashboardSession, presented: string | null): boolean {
    return presented !== null && equal(presented, session.csrf);
  }

  /**
   * The OAuth `state` for a sign-in, bound to this browser by a short-lived cookie, with the
   * dashboard page to return to.
   */
  beginSignIn(returnTo: string): { state: string; cookie: string } {
    const state = randomBytes(24).toString("base64url");
    const value = this.#sign(JSON.stringify({ state, returnTo }));
    // Lax, so that the cookie comes back with GitHub's redirect (a top-level GET).
    return { state, cookie: serializeCookie(STATE_COOKIE, value, this.#cookie("/dashboard/auth", STATE_SECONDS)) };
  }

  /** The page to return to, when `state` is the one this browser's sign-in began with. */
  finishSignIn(req: IncomingMessage, state: string | null): { returnTo: string; clear: string } | undefined {
    const clear = serializeCookie(STATE_COOKIE, "", this.#cookie("/dashboard/auth", 0));
    const value = this.#unsign(parseCookies(req.headers.cookie).get(STATE_COOKIE));
    if (!value || state === null) return undefined;
    const started = JSON.parse(value) as { state: string; returnTo: string };
    return equal(started.state, state) ? { returnTo: started.returnTo, clear } : undefined;
  }

  #cookie(path: string, maxAge: number): CookieOptions {
    return { path, maxAge, secure: this.options.secure, sameSite: "Lax" };
  }

  #sign(value: string): string {
    const payload = Buffer.from(value).toString("base64url");
    return `${payload}.${createHmac("sha256", this.secret).update(payload).digest("base64url")}`;
  }

  #unsign(signed: string | undefined): string | undefined {
    const dot = signed?.lastIndexOf(".") ?? -1;
    if (!signed || dot < 0) return undefined;
    const payload = signed.slice(0, dot);
    const expected = createHmac("sha256", this.secret).update(payload).digest("base64url");
    return equal(signed.slice(dot + 1), expected) ? Buffer.from(payload, "base64url").toString("utf8") : undefined;
  }

  #now(): Date {
    return this.options.now?.() ?? new Date();
  }
}
