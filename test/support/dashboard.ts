// The whole app served over HTTP on loopback, with GitHub's OAuth and API at their edge in nock,
// and a cookie-keeping client to act as a signed-in user.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { createNodeMiddleware } from "probot";
import { createApp } from "../../src/app.js";
import { RoutinesCache } from "../../src/config/routines-cache.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import { RunEvents } from "../../src/runs/run-events.js";
import { LocalSignals, type Signals } from "../../src/runs/signals.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { Settings } from "../../src/settings.js";
import { testSettings } from "./app.js";
import { API, CONTENTS_PATH, contentsReply, TestOctokit, testProbot } from "./github.js";

/** A routines file with a PR routine, a schedule, an api trigger, and a broken routine. */
export const ROUTINES = `version: 1
routines:
  review:
    prompt: Review the pull request.
    triggers:
      - github: { event: pull_request, filters: { base_branch: main } }
      - command: review
  nightly:
    prompt: Tidy up.
    triggers:
      - schedule: { preset: weekdays, time: "09:00", timezone: Europe/Berlin }
  triage:
    prompt: Triage the alert.
    triggers:
      - api: {}
  broken:
    prompt: 42
    triggers:
      - schedule: { cron: "61 * * * *" }
`;

export const OAUTH = { clientId: "Iv1.dashboardtest", clientSecret: "dashboard-client-secret" };

export interface Repo {
  owner: string;
  repo: string;
  write: boolean;
  private?: boolean;
}

export interface GitHubUser {
  login: string;
  installations: Array<{ id: number; account: string; type: "User" | "Organization"; orgRole?: "admin" | "member"; repositories: Repo[] }>;
}

/** Installation 42 (organization acme, which alice owns): write on acme/app, read on acme/docs. */
export const alice: GitHubUser = {
  login: "alice",
  installations: [
    {
      id: 42,
      account: "acme",
      type: "Organization",
      orgRole: "admin",
      repositories: [
        { owner: "acme", repo: "app", write: true },
        { owner: "acme", repo: "docs", write: false },
      ],
    },
  ],
};

/** A member of acme who can read acme/app and nothing more. */
export const rita: GitHubUser = {
  login: "rita",
  installations: [{ id: 42, account: "acme", type: "Organization", orgRole: "member", repositories: [{ owner: "acme", repo: "app", write: false }] }],
};

/** Every route that changes something, for a queued run and an API token. */
export const changeRoutes = (runId: string, triggerId: string) => [
  "/dashboard/repos/acme/app/routines/review/run",
  "/dashboard/repos/acme/app/routines/triage/tokens",
  `/dashboard/tokens/${triggerId}/revoke`,
  `/dashboard/runs/${runId}/cancel`,
  "/dashboard/installations/42/kill-switch",
];

/** GitHub's side of a sign-in: the code exchange, then what the user's token can see. */
export function nockSignIn(user: GitHubUser, code = "oauth-code") {
  nock("https://github.com")
    .post("/login/oauth/access_token", (body: Record<string, string>) => body.code === code && body.client_id === OAUTH.clientId && body.client_secret === OAUTH.clientSecret)
    .reply(200, { access_token: `ghu_${user.login}`, token_type: "bearer", scope: "" });
  const api = nock(API, { reqheaders: { authorization: `token ghu_${user.login}` } });
  api.get("/user").reply(200, { login: user.login, id: 1, avatar_url: "https://avatars.example.test/u/1" });
  api.get("/user/installations").query(true).reply(200, {
    total_count: user.installations.length,
    installations: user.installations.map((installation) => ({ id: installation.id, account: { login: installation.account, type: installation.type } })),
  });
  for (const installation of user.installations) {
    api
      .get(`/user/installations/${installation.id}/repositories`)
      .query(true)
      .reply(200, {
        total_count: installation.repositories.length,
        repositories: installation.repositories.map((r) => ({
          name: r.repo,
          full_name: `${r.owner}/${r.repo}`,
          owner: { login: r.owner },
          private: r.private ?? false,
          permissions: { admin: false, maintain: false, push: r.write, triage: true, pull: true },
        })),
      });
    if (installation.type === "Organization") {
      if (installation.orgRole) api.get(`/user/memberships/orgs/${installation.account}`).reply(200, { role: installation.orgRole, state: "active" });
      else api.get(`/user/memberships/orgs/${installation.account}`).reply(404, { message: "Not Found" });
    }
  }
}

/** The installation token exchange, which Probot does once and then remembers. */
function installationToken(installationId: number) {
  nock(API)
    .post(`/app/installations/${installationId}/access_tokens`)
    .optionally()
    .reply(201, { token: "ghs_installation_token", expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {} });
}

/** GitHub answering the live permission check the dashboard makes before a change (remembered for a minute). */
export function nockPermission(installationId: number, { owner, repo }: { owner: string; repo: string }, login: string, permission: "write" | "read" | "admin") {
  installationToken(installationId);
  nock(API).get(`/repos/${owner}/${repo}/collaborators/${login}/permission`).reply(200, { permission, role_name: permission, user: { login } });
}

/** The default branch's routines.yml of a repository, read with the installation's token. */
export function nockRoutines(installationId: number, text: string, sha = "config-sha") {
  installationToken(installationId);
  nock(API).get(CONTENTS_PATH).reply(200, contentsReply(text, sha), { etag: `"${sha}"` });
}

/** A fetch that keeps cookies, as a browser would for one site. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(`${this.base}${path}`, { redirect: "manual", ...init, headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) } });
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(";");
      const [name, value] = [pair!.slice(0, pair!.indexOf("=")), pair!.slice(pair!.indexOf("=") + 1)];
      if (attributes.some((attribute) => attribute.trim() === "Max-Age=0")) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** A form post, as the page's forms send it. */
  post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
  }

  /** Signs in through the whole flow; GitHub's side must be nocked (nockSignIn). */
  async signIn(code = "oauth-code"): Promise<void> {
    const start = await this.fetch("/dashboard/auth/sign-in");
    const authorize = new URL(start.headers.get("location")!);
    const callback = await this.fetch(`/dashboard/auth/callback?code=${code}&state=${authorize.searchParams.get("state")}`);
    if (callback.status !== 303) throw new Error(`sign-in failed with ${callback.status}: ${await callback.text()}`);
  }

  /** The CSRF token of the signed-in session, as the pages embed it. */
  async csrf(): Promise<string> {
    const page = await (await this.fetch("/dashboard")).text();
    return /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  }
}

export interface DashboardServer {
  base: string;
  store: SqliteStore;
  events: RunEvents;
  /** What the app hears from other processes (and this one): publish here as another process would. */
  signals: Signals;
  routines: RoutinesCache;
  settings: Settings;
  close(): Promise<void>;
}

export async function startDashboard(
  options: { settings?: Partial<Settings>; cancelRun?: (runId: string, reason: string) => Promise<boolean>; events?: RunEvents; signals?: Signals; store?: SqliteStore; onQueued?: () => void } = {},
): Promise<DashboardServer> {
  const store = options.store ?? new SqliteStore(":memory:");
  const settings: Settings = { ...testSettings, oauth: OAUTH, sessionSecret: "s".repeat(64), publicUrl: "http://127.0.0.1", ...options.settings };
  const signals = options.signals ?? new LocalSignals();
  const events = options.events ?? new RunEvents(signals, store);
  const routines = new RoutinesCache(() => settings);
  const app = createApp({
    settings,
    store,
    admission: new StoreAdmission(store, settings, options.onQueued ? { onQueued: options.onQueued } : {}),
    routines,
    events,
    signals,
    octokitForToken: (token) => new TestOctokit({ auth: { token } }),
    ...(options.cancelRun ? { cancelRun: options.cancelRun } : {}),
  });
  const middleware = await createNodeMiddleware(app, { probot: testProbot() });
  const server: Server = createServer((req, res) => void middleware(req, res, () => res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  nock.enableNetConnect("127.0.0.1");
  return {
    base,
    store,
    events,
    signals,
    routines,
    settings,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
