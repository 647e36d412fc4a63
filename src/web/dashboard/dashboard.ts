// The dashboard under /dashboard: server-rendered pages for signed-in GitHub users. Reading needs
// access to the repository (as GitHub said at sign-in); every change needs a session, the form's
// CSRF token, and write permission on the repository, asked from GitHub again at that moment.
import type { IncomingMessage, ServerResponse } from "node:http";
import { routineFacts } from "../../config/environment-of.js";
import type { Octokit } from "../../config/read-config-file.js";
import type { RoutinesCache } from "../../config/routines-cache.js";
import type { WritePermissions } from "../../github/permissions.js";
import type { RepositoryId } from "../../run-request.js";
import type { Admission } from "../../runs/admission.js";
import { newApiToken } from "../../runs/api-tokens.js";
import type { RunEvents } from "../../runs/run-events.js";
import type { RunListQuery, RunRecord, RunStore } from "../../runs/store.js";
import { HttpError, readForm, redirect, sendHtml } from "../http.js";
import { SCRIPT, STYLE } from "./assets.js";
import { SignInError, type GitHubSignIn } from "./github-sign-in.js";
import { streamRun } from "./live.js";
import { findingsPage } from "./pages/findings.js";
import { homePage } from "./pages/home.js";
import { repoPath } from "./pages/layout.js";
import { messagePage, signInPage, tokenCreatedPage } from "./pages/messages.js";
import { repositoryPage } from "./pages/repository.js";
import { runPage, runState, type RunView } from "./pages/run.js";
import { OUTCOMES, runsPage, STATUSES, TRIGGER_KINDS, type RunFilters } from "./pages/runs.js";
import type { DashboardSession, Sessions } from "./sessions.js";
import { accessTo, allRepositories, sameRepository } from "./viewer.js";

export interface DashboardDeps {
  store: RunStore;
  admission: Admission;
  routines: RoutinesCache;
  sessions: Sessions;
  /** Undefined when the server has no OAuth credentials: the sign-in page says how to add them. */
  signIn?: GitHubSignIn;
  events: RunEvents;
  /** Cancels a queued run or stops a running one; false when it is neither. */
  cancelRun(runId: string, reason: string): Promise<boolean>;
  installationOctokit(installationId: number): Promise<Octokit>;
  permissions: WritePermissions;
  /** Where users reach this server, for API URLs. */
  publicUrl: string;
  /** GitHub's web address, for links to pull requests. */
  githubUrl: string;
  onError?(error: unknown): void;
  now?(): Date;
}

const PAGE_SIZE = 25;
const MAX_TEXT = 10_000;

interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  session: DashboardSession;
}

type Route = { method: "GET" | "POST"; path: RegExp; handle(request: Request, params: string[]): Promise<void> };

const segment = "([^/]+)";
const parseRepository = (text: string | undefined): RepositoryId | undefined => {
  const [owner, repo, extra] = (text ?? "").split("/");
  return owner && repo && extra === undefined ? { owner, repo } : undefined;
};
const oneOf = <T extends string>(values: readonly T[], text: string | null): T | undefined => (values as readonly string[]).includes(text ?? "") ? (text as T) : undefined;
/** Only dashboard paths are returned to after sign-in, so the return address cannot send a user elsewhere. */
const safeReturn = (path: string | null | undefined) => (path && /^\/dashboard(?:[/?#]|$)/.test(path) && !path.startsWith("//") ? path : "/dashboard");

function decodeSegment(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, `The address has a malformed part: ${part}`);
  }
}

export function dashboardHandler(deps: DashboardDeps) {
  const now = () => deps.now?.() ?? new Date();

  /** The repository as the viewer may see it; 404 when they cannot (whether or not it exists). */
  const visible = (session: DashboardSession, repository: RepositoryId) => {
    const access = accessTo(session.viewer, repository);
    if (!access) throw new HttpError(404, `No repository ${repository.owner}/${repository.repo} that you can access has this app installed.`);
    return access;
  };

  /** Write permission, from the sign-in snapshot and from GitHub now: permissions may have been taken away since. */
  const writable = async (session: DashboardSession, repository: RepositoryId) => {
    const access = visible(session, repository);
    const allowed = access.repository.write && (await deps.permissions.canWrite(await deps.installationOctokit(access.installation.id), repository, session.viewer.login));
    if (!allowed) throw new HttpError(403, `You need write permission on ${repository.owner}/${repository.repo} to do this.`);
    return access;
  };

  const visibleRun = async (session: DashboardSession, id: string) => {
    const run = await deps.store.getRun(id);
    if (!run || !accessTo(session.viewer, run.repository)) throw new HttpError(404, `No run ${id} that you can see.`);
    return run;
  };

  const runView = (session: DashboardSession, run: RunRecord): RunView => ({
    run,
    session,
    canWrite: accessTo(session.viewer, run.repository)?.repository.write ?? false,
    githubUrl: deps.githubUrl,
  });

  /** The routine as the default branch defines it now; undefined when it is missing or has errors. */
  const routineOf = async (installationId: number, repository: RepositoryId, name: string) => {
    const config = await deps.routines.load(await deps.installationOctokit(installationId), repository);
    return { config, routine: config.found ? config.routines[name] : undefined };
  };

  const loadConfig = async (installationId: number, repository: RepositoryId) => {
    try {
      return await deps.routines.load(await deps.installationOctokit(installationId), repository);
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  const routes: Route[] = [
    {
      method: "GET",
      path: /^\/dashboard\/?$/,
      async handle({ res, session }) {
        const installations = await Promise.all(
          session.viewer.installations.map(async (installation) => ({ installation, disabled: await deps.store.isInstallationDisabled(installation.id) })),
        );
        sendHtml(res, 200, homePage(session, installations));
      },
    },
    {
      method: "GET",
      path: new RegExp(`^/dashboard/repos/${segment}/${segment}/?$`),
      async handle({ res, session }, [owner, repo]) {
        const { installation, repository } = visible(session, { owner: owner!, repo: repo! });
        const config = await loadConfig(installation.id, repository);
        const names = "found" in config && config.found ? Object.keys(config.routines) : [];
        const id = { owner: repository.owner, repo: repository.repo };
        const last = await Promise.all(names.map(async (name) => (await deps.store.listRuns({ limit: 1, repository: id, routine: name }))[0]));
        const lastRuns = new Map(last.flatMap((run) => (run ? [[run.routine, run] as const] : [])));
        const tokens = (await deps.store.listApiTokens()).filter((token) => sameRepository(token.repository, repository));
        const findings = new Map((await deps.store.findingStats([id])).map((stats) => [stats.routine, stats] as const));
        sendHtml(res, 200, repositoryPage({ session, repository, canWrite: repository.write, config, tokens, lastRuns, findings, now: now() }));
      },
    },
    {
      method: "POST",
      path: new RegExp(`^/dashboard/repos/${segment}/${segment}/routines/${segment}/run$`),
      async handle({ req, res, session }, [owner, repo, name]) {
        const form = await readForm(req);
        const { installation, repository } = await writable(session, { owner: owner!, repo: repo! });
        const text = (form.get("text") ?? "").trim();
        if (text.length > MAX_TEXT) throw new HttpError(413, `The extra instructions are longer than ${MAX_TEXT} characters.`);
        const { config, routine } = await routineOf(installation.id, repository, name!);
        if (!config.found || !routine) throw new HttpError(409, `Routine ${name} is not defined (or has errors) on the default branch of ${owner}/${repo}.`);
        const result = await deps.admission.admit({
          routine: name!,
          repository: { owner: repository.owner, repo: repository.repo },
          installationId: installation.id,
          configSha: config.sha,
          trigger: { kind: "manual", user: session.viewer.login },
          context: {
            ...(text ? { extraInstructions: text } : {}),
            withoutSecrets: false,
            ...routineFacts(routine, config.environments, false),
          },
        });
        const runId = result.status === "duplicate" ? result.runId : result.run.id;
        redirect(res, `/dashboard/runs/${runId}`);
      },
    },
    {
      method: "POST",
      path: new RegExp(`^/dashboard/repos/${segment}/${segment}/routines/${segment}/tokens$`),
      async handle({ req, res, session }, [owner, repo, name]) {
        await readForm(req);
        const { installation, repository } = await writable(session, { owner: owner!, repo: repo! });
        const { routine } = await routineOf(installation.id, repository, name!);
        if (!routine?.triggers?.some((trigger) => "api" in trigger)) {
          throw new HttpError(409, `Routine ${name} in ${owner}/${repo} has no api trigger on the default branch; add "- api: {}" to its triggers first.`);
        }
        const { token, record } = newApiToken({ owner: repository.owner, repo: repository.repo }, name!, now());
        await deps.store.createApiToken(record);
        sendHtml(res, 201, tokenCreatedPage(session, record, token, `${deps.publicUrl}/api/v1/routines/${record.triggerId}/fire`));
      },
    },
    {
      method: "POST",
      path: new RegExp(`^/dashboard/tokens/${segment}/revoke$`),
      async handle({ req, res, session }, [triggerId]) {
        await readForm(req);
        const token = await deps.store.getApiToken(triggerId!);
        if (!token || !accessTo(session.viewer, token.repository)) throw new HttpError(404, `No API token ${triggerId} that you can see.`);
        await writable(session, token.repository);
        await deps.store.revokeApiToken(token.triggerId, now());
        redirect(res, `${repoPath(token.repository)}#routine-${encodeURIComponent(token.routine)}`);
      },
    },
    {
      method: "GET",
      path: /^\/dashboard\/findings\/?$/,
      async handle({ res, session }) {
        sendHtml(res, 200, findingsPage(session, await deps.store.findingStats(allRepositories(session.viewer))));
      },
    },
    {
      method: "GET",
      path: /^\/dashboard\/runs\/?$/,
      async handle({ res, url, session }) {
        const params = url.searchParams;
        const repositories = allRepositories(session.viewer);
        const repository = parseRepository(params.get("repository") ?? undefined);
        const filters: RunFilters = {
          ...(repository ? { repository: `${repository.owner}/${repository.repo}` } : {}),
          ...(params.get("routine") ? { routine: params.get("routine")! } : {}),
          ...(oneOf(TRIGGER_KINDS, params.get("trigger")) ? { trigger: params.get("trigger")! } : {}),
          ...(oneOf(STATUSES, params.get("status")) ? { status: params.get("status")! } : {}),
          ...(oneOf(OUTCOMES, params.get("outcome")) ? { outcome: params.get("outcome")! } : {}),
        };
        const query: RunListQuery = {
          limit: PAGE_SIZE + 1,
          repositories: repository ? (accessTo(session.viewer, repository) ? [repository] : []) : repositories,
          ...(filters.routine ? { routine: filters.routine } : {}),
          ...(filters.trigger ? { triggerKind: filters.trigger as RunListQuery["triggerKind"] & string } : {}),
          ...(filters.status ? { status: filters.status as (typeof STATUSES)[number] } : {}),
          ...(filters.outcome ? { outcome: filters.outcome as (typeof OUTCOMES)[number] } : {}),
          ...(params.get("before") ? { before: params.get("before")! } : {}),
        };
        const runs = await deps.store.listRuns(query);
        const more = runs.length > PAGE_SIZE;
        const shown = runs.slice(0, PAGE_SIZE);
        sendHtml(res, 200, runsPage({ session, filters, repositories: repositories.map((r) => `${r.owner}/${r.repo}`), runs: shown, ...(more ? { next: shown.at(-1)!.id } : {}) }));
      },
    },
    {
      method: "GET",
      path: new RegExp(`^/dashboard/runs/${segment}/?$`),
      async handle({ res, session }, [id]) {
        const run = await visibleRun(session, id!);
        sendHtml(res, 200, runPage(runView(session, run), await deps.store.listEvents(run.id)));
      },
    },
    {
      method: "GET",
      path: new RegExp(`^/dashboard/runs/${segment}/events$`),
      async handle({ req, res, url, session }, [id]) {
        const run = await visibleRun(session, id!);
        const after = Number(url.searchParams.get("after") ?? req.headers["last-event-id"] ?? 0);
        await streamRun(req, res, run, Number.isSafeInteger(after) && after > 0 ? after : 0, {
          store: deps.store,
          events: deps.events,
          renderState: (current, events) => runState(runView(session, current), events),
        });
      },
    },
    {
      method: "POST",
      path: new RegExp(`^/dashboard/runs/${segment}/cancel$`),
      async handle({ req, res, session }, [id]) {
        await readForm(req);
        const run = await visibleRun(session, id!);
        await writable(session, run.repository);
        if (!(await deps.cancelRun(run.id, `cancelled by ${session.viewer.login} in the dashboard`))) {
          throw new HttpError(409, `Run ${run.id} is ${run.status}: only a queued or running run can be cancelled.`);
        }
        redirect(res, `/dashboard/runs/${run.id}`);
      },
    },
    {
      method: "POST",
      path: new RegExp(`^/dashboard/installations/(\\d+)/kill-switch$`),
      async handle({ req, res, session }, [id]) {
        const form = await readForm(req);
        const installation = session.viewer.installations.find((candidate) => candidate.id === Number(id));
        if (!installation) throw new HttpError(404, `No installation ${id} that you can access.`);
        if (!installation.admin) throw new HttpError(403, `Only ${installation.accountType === "Organization" ? `owners of ${installation.account}` : installation.account} can turn its routines on or off.`);
        const disabled = form.get("disabled");
        if (disabled !== "true" && disabled !== "false") throw new HttpError(400, 'The form must say disabled=true or disabled=false.');
        await deps.store.setInstallationDisabled(installation.id, disabled === "true");
        redirect(res, "/dashboard");
      },
    },
  ];

  const assets: Record<string, { type: string; body: string }> = {
    "/dashboard/assets/dashboard.css": { type: "text/css; charset=utf-8", body: STYLE },
    "/dashboard/assets/dashboard.js": { type: "text/javascript; charset=utf-8", body: SCRIPT },
  };

  const signIn = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname === "/dashboard/auth/sign-in" && req.method === "GET") {
      const returnTo = safeReturn(url.searchParams.get("return_to"));
      if (!deps.signIn) return sendHtml(res, 200, signInPage({ configured: false, returnTo }));
      const { state, cookie } = deps.sessions.beginSignIn(returnTo);
      return redirect(res, deps.signIn.authorizeUrl(state), { "set-cookie": cookie });
    }
    if (url.pathname === "/dashboard/auth/callback" && req.method === "GET") {
      if (!deps.signIn) return sendHtml(res, 200, signInPage({ configured: false, returnTo: "/dashboard" }));
      const started = deps.sessions.finishSignIn(req, url.searchParams.get("state"));
      const code = url.searchParams.get("code");
      if (!started || !code) {
        const problem = url.searchParams.get("error_description") ?? "The sign-in did not start here or took too long; sign in again.";
        return sendHtml(res, 400, signInPage({ configured: true, returnTo: "/dashboard", problem }));
      }
      let viewer;
      try {
        viewer = await deps.signIn.viewer(code);
      } catch (error) {
        if (!(error instanceof SignInError)) throw error;
        return sendHtml(res, 400, signInPage({ configured: true, returnTo: started.returnTo, problem: error.message }), { "set-cookie": started.clear });
      }
      return redirect(res, safeReturn(started.returnTo), { "set-cookie": [started.clear, await deps.sessions.start(viewer)] });
    }
    return false;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const asset = assets[url.pathname];
    if (asset && req.method === "GET") {
      res.writeHead(200, { "content-type": asset.type, "cache-control": "public, max-age=3600", "x-content-type-options": "nosniff" }).end(asset.body);
      return;
    }
    if ((await signIn(req, res, url)) !== false) return;
    const session = await deps.sessions.read(req);
    if (url.pathname === "/dashboard/auth/sign-out" && req.method === "POST") {
      const form = await readForm(req);
      if (session && !deps.sessions.csrfMatches(session, form.get("_csrf"))) throw new HttpError(403, "This form is out of date; reload the page and try again.");
      return redirect(res, "/dashboard", { "set-cookie": await deps.sessions.end(session) });
    }
    const route = routes.find((candidate) => candidate.path.test(url.pathname));
    if (!route) throw new HttpError(404, `There is no page ${url.pathname}.`);
    if (route.method !== req.method) throw new HttpError(405, `Use ${route.method} for ${url.pathname}.`, { allow: route.method });
    if (!session) {
      if (req.method === "GET") return sendHtml(res, 401, signInPage({ configured: deps.signIn !== undefined, returnTo: safeReturn(url.pathname + url.search) }));
      throw new HttpError(401, "Sign in to do this.");
    }
    if (req.method === "POST") {
      // Read here for its token; the route's own read gets the same parsed form.
      const form = await readForm(req);
      if (!deps.sessions.csrfMatches(session, form.get("_csrf"))) throw new HttpError(403, "This form is out of date; reload the page and try again.");
    }
    const params = route.path.exec(url.pathname)!.slice(1).map(decodeSegment);
    await route.handle({ req, res, url, session }, params);
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    if (url.pathname !== "/dashboard" && !url.pathname.startsWith("/dashboard/")) return false;
    try {
      await handle(req, res, url);
    } catch (error) {
      if (res.headersSent) {
        res.end();
        return true;
      }
      const session = await deps.sessions.read(req).catch(() => undefined);
      if (error instanceof HttpError) {
        sendHtml(res, error.status, messagePage(error.status, error.message, session), error.headers);
      } else {
        deps.onError?.(error);
        const status = typeof (error as { status?: unknown }).status === "number" ? 502 : 500;
        sendHtml(res, status, messagePage(status, status === 502 ? `GitHub answered with an error: ${(error as Error).message}` : "Something went wrong on the server; it has been logged.", session));
      }
    }
    return true;
  };
}
