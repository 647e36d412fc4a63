import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newRunId } from "../../../src/runs/admission.js";
import { hashToken, newApiToken } from "../../../src/runs/api-tokens.js";
import type { RunRecord } from "../../../src/runs/store.js";
import { alice, Browser, changeRoutes, nockPermission, nockRoutines, nockSignIn, rita as reader, ROUTINES, startDashboard, type DashboardServer } from "../../support/dashboard.js";
import { useNock } from "../../support/github.js";

let seq = 0;
function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: newRunId(),
    routine: "review",
    repository: { owner: "acme", repo: "app" },
    installationId: 42,
    configSha: "config-sha",
    trigger: { kind: "api", index: 0, triggerId: "trg_1" },
    context: { withoutSecrets: false },
    status: "queued",
    createdAt: new Date(Date.UTC(2026, 10, 1) + ++seq * 1000),
    ...overrides,
  };
}

describe("dashboard", () => {
  let server: DashboardServer;
  let browser: Browser;
  const cancelled: string[] = [];

  useNock();
  beforeEach(async () => {
    cancelled.length = 0;
    server = await startDashboard({
      cancelRun: async (runId, reason) => {
        cancelled.push(runId);
        return server.store.transition(runId, ["queued", "running"], { status: "cancelled", reason, finishedAt: new Date() });
      },
    });
    browser = new Browser(server.base);
  });
  afterEach(() => server.close());

  describe("signing in", () => {
    it("shows a sign-in page to a visitor, and nothing else", async () => {
      await server.store.insertRun(run());
      for (const path of ["/dashboard", "/dashboard/runs", "/dashboard/repos/acme/app"]) {
        const response = await browser.fetch(path);
        expect(response.status).toBe(401);
        const page = await response.text();
        expect(page).toContain("Sign in with GitHub");
        expect(page).not.toContain("acme/app");
      }
    });

    it("signs in through GitHub's web flow into a signed, HttpOnly, SameSite session", async () => {
      const start = await browser.fetch("/dashboard/auth/sign-in?return_to=%2Fdashboard%2Fruns");
      expect(start.status).toBe(303);
      const authorize = new URL(start.headers.get("location")!);
      expect(authorize.origin + authorize.pathname).toBe("https://github.com/login/oauth/authorize");
      expect(authorize.searchParams.get("client_id")).toBe("Iv1.dashboardtest");
      expect(authorize.searchParams.get("redirect_uri")).toBe("http://127.0.0.1/dashboard/auth/callback");
      const state = authorize.searchParams.get("state")!;
      expect(state.length).toBeGreaterThan(20);
      expect(start.headers.getSetCookie()[0]).toMatch(/^routines_sign_in=.+; Path=\/dashboard\/auth; Max-Age=600; HttpOnly; SameSite=Lax$/);

      nockSignIn(alice);
      const callback = await browser.fetch(`/dashboard/auth/callback?code=oauth-code&state=${state}`);
      expect(callback.status).toBe(303);
      expect(callback.headers.get("location")).toBe("/dashboard/runs");
      const session = callback.headers.getSetCookie().find((cookie) => cookie.startsWith("routines_session="))!;
      expect(session).toMatch(/^routines_session=[\w-]+\.[\w-]+; Path=\/dashboard; Max-Age=28800; HttpOnly; SameSite=Lax$/);

      const home = await (await browser.fetch("/dashboard")).text();
      expect(home).toContain("Signed in as <strong>alice</strong>");
      expect(home).toContain('href="/dashboard/repos/acme/app"');
      expect(home).toContain('href="/dashboard/repos/acme/docs"');
    });

    it("refuses a callback whose state this browser did not start, and a forged cookie", async () => {
      await browser.fetch("/dashboard/auth/sign-in");
      const callback = await browser.fetch("/dashboard/auth/callback?code=oauth-code&state=somebody-elses");
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain("The sign-in did not start here or took too long");

      nockSignIn(alice);
      await browser.signIn();
      const [id] = browser.cookies.get("routines_session")!.split(".");
      browser.cookies.set("routines_session", `${id}.forged-signature`);
      expect((await browser.fetch("/dashboard")).status).toBe(401);
    });

    it("says so when GitHub refuses the code or the user declines", async () => {
      const start = await browser.fetch("/dashboard/auth/sign-in");
      const state = new URL(start.headers.get("location")!).searchParams.get("state");
      nock("https://github.com").post("/login/oauth/access_token").reply(200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      const refused = await browser.fetch(`/dashboard/auth/callback?code=stale&state=${state}`);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain("GitHub did not accept the sign-in code");
      expect(browser.cookies.has("routines_session")).toBe(false);

      const again = await browser.fetch("/dashboard/auth/sign-in");
      const declined = await browser.fetch(`/dashboard/auth/callback?error=access_denied&error_description=The+user+has+denied+your+application+access.&state=${new URL(again.headers.get("location")!).searchParams.get("state")}`);
      expect(declined.status).toBe(400);
      expect(await declined.text()).toContain("The user has denied your application access.");
    });

    it("answers a malformed address with 400", async () => {
      nockSignIn(alice);
      await browser.signIn();
      expect((await browser.fetch("/dashboard/runs/%E0%A4%A")).status).toBe(400);
      expect((await browser.fetch("/dashboard/nothing-here")).status).toBe(404);
      expect((await browser.fetch("/dashboard/runs", { method: "POST" })).status).toBe(405);
    });

    it("never sends the user anywhere but the dashboard after signing in", async () => {
      const start = await browser.fetch("/dashboard/auth/sign-in?return_to=https%3A%2F%2Fevil.example%2F");
      const state = new URL(start.headers.get("location")!).searchParams.get("state");
      nockSignIn(alice);
      const callback = await browser.fetch(`/dashboard/auth/callback?code=oauth-code&state=${state}`);
      expect(callback.headers.get("location")).toBe("/dashboard");
    });

    it("signs out: the session is gone from the store, not only from the browser", async () => {
      nockSignIn(alice);
      await browser.signIn();
      const cookie = browser.cookies.get("routines_session")!;
      const out = await browser.post("/dashboard/auth/sign-out", { _csrf: await browser.csrf() });
      expect(out.status).toBe(303);
      expect(browser.cookies.has("routines_session")).toBe(false);
      browser.cookies.set("routines_session", cookie);
      expect((await browser.fetch("/dashboard")).status).toBe(401);
    });
  });

  describe("signed in", () => {
    beforeEach(async () => {
      nockSignIn(alice);
      await browser.signIn();
    });

    it("shows a repository's routines: triggers in words, the next schedule, the last run, problems with their lines", async () => {
      const older = run({ routine: "nightly", status: "completed", outcome: "failed" });
      const last = run({ routine: "nightly", status: "errored" });
      for (const each of [older, last]) await server.store.insertRun(each);
      nockRoutines(42, ROUTINES);
      const response = await browser.fetch("/dashboard/repos/acme/app");
      expect(response.status).toBe(200);
      const page = await response.text();
      expect(page).toContain("pull_request (opened, synchronize, reopened, ready_for_review) where base_branch main");
      expect(page).toContain("weekdays at 09:00 (Europe/Berlin)");
      expect(page).toMatch(/Next scheduled run: <strong>\d{4}-\d\d-\d\d 09:00 Europe\/Berlin<\/strong>/);
      expect(page).toContain(".claude/routines.yml:17:13: routines.broken.prompt: expected a string, got 42");
      expect(page).toContain('.claude/routines.yml:19:27: routines.broken.triggers[0].schedule.cron: invalid cron expression &quot;61 * * * *&quot;');
      expect(page).toContain("<code>/routine run review</code> in pull request comments");
      expect(page).toContain(`Last run: <a href="/dashboard/runs/${last.id}">`);
      expect(page.match(/Last run:/g)).toHaveLength(1);
      expect(page).toContain('action="/dashboard/repos/acme/app/routines/triage/tokens"');
      expect(page).not.toContain('id="routine-broken"');
    });

    it("shows each routine's findings addressed before merge, with the definition, only for repositories the user can see", async () => {
      const finding = (commentId: number, repository = { owner: "acme", repo: "app" }, routine = "review") => ({
        repository, installationId: 42, pullNumber: 3, routine, commentId, path: "a.ts", side: "RIGHT" as const, startLine: 1, endLine: 2, headSha: "abc", postedAt: new Date(),
      });
      for (const id of [1, 2, 3]) await server.store.recordFinding(finding(id));
      await server.store.updateFindingSignals({ owner: "acme", repo: "app" }, 1, { resolved: true, thumbsUp: 2 });
      await server.store.updateFindingSignals({ owner: "acme", repo: "app" }, 2, { resolved: false, linesChanged: false, thumbsDown: 1 });
      await server.store.updateFindingSignals({ owner: "acme", repo: "app" }, 3, { resolved: false });
      await server.store.markFindingsMerged({ owner: "acme", repo: "app" }, 3, new Date());
      await server.store.recordFinding(finding(4, { owner: "other", repo: "secret" }, "hidden-routine"));
      await server.store.markFindingsMerged({ owner: "other", repo: "secret" }, 3, new Date());

      const page = await (await browser.fetch("/dashboard/findings")).text();
      expect(page).toContain("<td>1 of 2 addressed (50 %)</td>");
      expect(page).toContain('href="/dashboard/repos/acme/app#routine-review"');
      expect(page).toContain("How “addressed before merge” is counted");
      expect(page).not.toContain("hidden-routine");

      nockRoutines(42, ROUTINES);
      const repository = await (await browser.fetch("/dashboard/repos/acme/app")).text();
      expect(repository).toContain("<strong>1 of 2 addressed (50 %)</strong>, 1 unknown · <span aria-label=\"2 thumbs up\">2 👍</span> · <span aria-label=\"1 thumbs down\">1 👎</span> · on 1 merged pull request");
      expect(repository).toContain('href="/dashboard/findings#definition"');
      expect(repository.match(/no findings on merged pull requests yet/g)?.length).toBeGreaterThan(0);
    });

    it("hides repositories and runs GitHub did not list for the user", async () => {
      const hidden = run({ repository: { owner: "other", repo: "secret" }, installationId: 99 });
      await server.store.insertRun(hidden);
      await server.store.insertRun(run({ routine: "visible-one" }));
      expect((await browser.fetch(`/dashboard/runs/${hidden.id}`)).status).toBe(404);
      expect((await browser.fetch("/dashboard/repos/other/secret")).status).toBe(404);
      const list = await (await browser.fetch("/dashboard/runs")).text();
      expect(list).toContain("visible-one");
      expect(list).not.toContain(hidden.id);
      expect(await (await browser.fetch("/dashboard/runs?repository=other%2Fsecret")).text()).toContain("No runs match these filters");
    });

    it("filters runs and pages through them", async () => {
      for (let i = 0; i < 30; i++) await server.store.insertRun(run({ routine: i % 2 ? "review" : "nightly", status: i % 3 ? "completed" : "errored", ...(i % 3 ? { outcome: "succeeded" as const } : {}) }));
      await server.store.insertRun(run({ routine: "nightly", trigger: { kind: "manual", user: "alice" } }));
      const first = await (await browser.fetch("/dashboard/runs")).text();
      expect(first.match(/<tr>\s*<td><a href="\/dashboard\/runs\/run_/g)).toHaveLength(25);
      const next = /href="(\/dashboard\/runs\?before=run_[0-9a-f]+)" rel="next"/.exec(first)![1]!;
      const second = await (await browser.fetch(next.replace(/&amp;/g, "&"))).text();
      expect(second.match(/<tr>\s*<td><a href="\/dashboard\/runs\/run_/g)).toHaveLength(6);
      expect(second).not.toContain('rel="next"');

      const errored = await (await browser.fetch("/dashboard/runs?status=errored&routine=nightly")).text();
      expect(errored.match(/badge s-errored/g)).toHaveLength(5);
      expect(errored).not.toContain("badge s-completed");
      expect(await (await browser.fetch("/dashboard/runs?trigger=manual")).text()).toContain("Run now by alice");
      expect((await (await browser.fetch("/dashboard/runs?outcome=succeeded")).text()).match(/badge o-succeeded/g)).toHaveLength(20);
    });

    it("shows each run's cost in the list and on its page, and says when it is unknown", async () => {
      const usage = { inputTokens: 10, cacheReadTokens: 4000, cacheWriteTokens: 300, outputTokens: 90 };
      const priced = run({ routine: "priced", status: "completed", outcome: "succeeded", usage });
      const unpriced = run({ routine: "unpriced", status: "completed", outcome: "succeeded", usage });
      await server.store.insertRun(priced);
      await server.store.insertRun(unpriced);
      await server.store.addRunCost(priced.id, 0.125);
      const list = await (await browser.fetch("/dashboard/runs")).text();
      expect(list).toContain('<th scope="col" class="hide-narrow">Cost</th>');
      expect(list).toMatch(new RegExp(`${priced.id}[\\s\\S]*?<td class="hide-narrow">\\$0\\.125</td>`));
      expect(list).toMatch(new RegExp(`${unpriced.id}[\\s\\S]*?<td class="hide-narrow">unknown</td>`));
      expect(await (await browser.fetch(`/dashboard/runs/${priced.id}`)).text()).toContain("<dt>Cost</dt><dd>$0.125</dd>");
      expect(await (await browser.fetch(`/dashboard/runs/${unpriced.id}`)).text()).toContain("<dt>Cost</dt><dd>unknown (the model has no known price)</dd>");
    });

    it("starts a run now, with the text, as the signed-in user", async () => {
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
      nockRoutines(42, ROUTINES);
      const response = await browser.post("/dashboard/repos/acme/app/routines/review/run", { _csrf: await browser.csrf(), text: "focus on the auth changes" });
      expect(response.status).toBe(303);
      const runId = /^\/dashboard\/runs\/(run_\w+)$/.exec(response.headers.get("location")!)![1]!;
      expect(await server.store.getRun(runId)).toMatchObject({
        status: "queued",
        routine: "review",
        installationId: 42,
        trigger: { kind: "manual", user: "alice" },
        context: { extraInstructions: "focus on the auth changes", withoutSecrets: false },
      });
      const page = await (await browser.fetch(`/dashboard/runs/${runId}`)).text();
      expect(page).toContain("Run now by alice");
      expect(page).toContain('action="/dashboard/runs/' + runId + '/cancel"');
    });

    it("cancels a queued run", async () => {
      const queued = run();
      await server.store.insertRun(queued);
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
      const response = await browser.post(`/dashboard/runs/${queued.id}/cancel`, { _csrf: await browser.csrf() });
      expect(response.status).toBe(303);
      expect(cancelled).toEqual([queued.id]);
      expect(await server.store.getRun(queued.id)).toMatchObject({ status: "cancelled", reason: "cancelled by alice in the dashboard" });
      const again = await browser.post(`/dashboard/runs/${queued.id}/cancel`, { _csrf: await browser.csrf() });
      expect(again.status).toBe(409);
    });

    it("creates an API token, shows it once, and revokes it", async () => {
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
      nockRoutines(42, ROUTINES);
      const created = await browser.post("/dashboard/repos/acme/app/routines/triage/tokens", { _csrf: await browser.csrf() });
      expect(created.status).toBe(201);
      expect(created.headers.get("cache-control")).toBe("no-store");
      const page = await created.text();
      const secret = /id="token-secret" class="secret">(rtn_[\w-]+)</.exec(page)![1]!;
      const [token] = await server.store.listApiTokens();
      expect(token).toMatchObject({ routine: "triage", repository: { owner: "acme", repo: "app" }, tokenHash: hashToken(secret) });
      expect(page).toContain(`curl -X POST http://127.0.0.1/api/v1/routines/${token!.triggerId}/fire`);

      const listed = await (await browser.fetch("/dashboard/repos/acme/app")).text();
      expect(listed).toContain(token!.triggerId);
      expect(listed).not.toContain(secret);

      const revoked = await browser.post(`/dashboard/tokens/${token!.triggerId}/revoke`, { _csrf: await browser.csrf() });
      expect(revoked.status).toBe(303);
      expect((await server.store.getApiToken(token!.triggerId))?.revokedAt).toBeInstanceOf(Date);
    });

    it("refuses a token for a routine without an api trigger", async () => {
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
      nockRoutines(42, ROUTINES);
      const response = await browser.post("/dashboard/repos/acme/app/routines/review/tokens", { _csrf: await browser.csrf() });
      expect(response.status).toBe(409);
      expect(await response.text()).toContain("has no api trigger on the default branch");
    });

    it("turns every routine of an installation off and on again, as an owner", async () => {
      const off = await browser.post("/dashboard/installations/42/kill-switch", { _csrf: await browser.csrf(), disabled: "true" });
      expect(off.status).toBe(303);
      expect(await server.store.isInstallationDisabled(42)).toBe(true);
      expect(await (await browser.fetch("/dashboard")).text()).toContain("All routines are off");
      await browser.post("/dashboard/installations/42/kill-switch", { _csrf: await browser.csrf(), disabled: "false" });
      expect(await server.store.isInstallationDisabled(42)).toBe(false);
    });

    it("refuses every change without the form's CSRF token", async () => {
      const queued = run();
      await server.store.insertRun(queued);
      const { record } = newApiToken({ owner: "acme", repo: "app" }, "triage");
      await server.store.createApiToken(record);
      for (const path of changeRoutes(queued.id, record.triggerId)) {
        for (const fields of [{}, { _csrf: "guessed" }] as Array<Record<string, string>>) {
          const response = await browser.post(path, { ...fields, disabled: "true" });
          expect(response.status, path).toBe(403);
          expect(await response.text()).toContain("This form is out of date");
        }
      }
      expect((await server.store.getRun(queued.id))?.status).toBe("queued");
      expect(await server.store.isInstallationDisabled(42)).toBe(false);
    });

    it("refuses a change when GitHub no longer gives the user write permission", async () => {
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "read");
      const response = await browser.post("/dashboard/repos/acme/app/routines/review/run", { _csrf: await browser.csrf() });
      expect(response.status).toBe(403);
      expect(await server.store.listRuns({ limit: 10 })).toEqual([]);
    });

    it("answers a form that is not urlencoded with 415, and a too-long text with 413", async () => {
      const csrf = await browser.csrf();
      const json = await browser.fetch("/dashboard/installations/42/kill-switch", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ _csrf: csrf }) });
      expect(json.status).toBe(415);
      nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
      const long = await browser.post("/dashboard/repos/acme/app/routines/review/run", { _csrf: csrf, text: "x".repeat(10_001) });
      expect(long.status).toBe(413);
    });
  });

  describe("a user without write permission", () => {
    beforeEach(async () => {
      nockSignIn(reader);
      await browser.signIn();
    });

    it("sees the repository but no forms that change it", async () => {
      nockRoutines(42, ROUTINES);
      const page = await (await browser.fetch("/dashboard/repos/acme/app")).text();
      expect(page).toContain("starting runs needs write permission");
      expect(page).not.toContain("/run\"");
      expect(await (await browser.fetch("/dashboard")).text()).not.toContain("kill-switch");
    });

    it("gets 403 on every state-changing route", async () => {
      const queued = run();
      await server.store.insertRun(queued);
      const { record } = newApiToken({ owner: "acme", repo: "app" }, "triage");
      await server.store.createApiToken(record);
      const csrf = await browser.csrf();
      for (const path of changeRoutes(queued.id, record.triggerId)) {
        const response = await browser.post(path, { _csrf: csrf, disabled: "true" });
        expect(response.status, path).toBe(403);
      }
      expect(await server.store.listRuns({ limit: 10 })).toEqual([queued]);
      expect((await server.store.getApiToken(record.triggerId))?.revokedAt).toBeUndefined();
      expect(await server.store.isInstallationDisabled(42)).toBe(false);
      expect(cancelled).toEqual([]);
    });
  });

  it("explains how to set up sign-in when the server has no OAuth credentials", async () => {
    const bare = await startDashboard({ settings: { oauth: undefined } });
    try {
      const response = await new Browser(bare.base).fetch("/dashboard/auth/sign-in");
      expect(response.status).toBe(200);
      const page = await response.text();
      expect(page).toContain("Sign-in is not set up: the server has no <code>GITHUB_CLIENT_ID</code>");
      expect(page).toContain("/dashboard/auth/callback");
    } finally {
      await bare.close();
    }
  });

  it("streams a run's transcript and status as server-sent events until the run ends", async () => {
    nockSignIn(alice);
    await browser.signIn();
    const running = run({ status: "running", startedAt: new Date() });
    await server.store.insertRun(running);
    await server.store.appendEvent(running.id, "assistant", { text: "Reading the diff." });
    const response = await browser.fetch(`/dashboard/runs/${running.id}/events?after=0`);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = "";
    const until = async (text: string) => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${text}: ${received}`);
        received += value;
      }
    };
    await until("Reading the diff.");
    expect(received).toMatch(/^id: 1\nevent: transcript\ndata: \{"seq":1,"html":"<li class=\\"assistant\\"/);

    // Recorded while the page watches: the store first, then the workers' notice, as WorkerPool does.
    const seq = await server.store.appendEvent(running.id, "tool_call", { id: "t1", name: "shell", input: { command: "npm test" } });
    server.events.event(running.id, { seq, at: new Date(), kind: "tool_call", data: { id: "t1", name: "shell", input: { command: "npm test" } } });
    await until("npm test");
    expect(received).toContain("id: 2\nevent: transcript");

    await server.store.transition(running.id, ["running"], { status: "completed", outcome: "succeeded", summary: "All green.", finishedAt: new Date() });
    server.events.status((await server.store.getRun(running.id))!);
    await until("event: end");
    expect(received).toContain("event: status");
    expect(received).toContain("All green.");
    expect((await reader.read()).done).toBe(true);
  });

  it("streams what another process's signals point at: an event left out of its signal, or out of order, is read from the store and sent once", async () => {
    nockSignIn(alice);
    await browser.signIn();
    const running = run({ status: "running", startedAt: new Date() });
    await server.store.insertRun(running);
    await server.store.appendEvent(running.id, "assistant", { text: "First." });
    const reader = (await browser.fetch(`/dashboard/runs/${running.id}/events?after=0`)).body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = "";
    const until = async (text: string) => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${text}: ${received}`);
        received += value;
      }
    };
    await until("First.");

    // Another process recorded two events; its signal for the second came first, without the event (too large to send).
    const second = await server.store.appendEvent(running.id, "assistant", { text: "Second." });
    const third = await server.store.appendEvent(running.id, "assistant", { text: "Third." });
    server.signals.publish({ type: "transcript", runId: running.id, seq: third, kind: "assistant" });
    await until("Third.");
    // The late signal of the second, with its event, sends nothing again.
    server.signals.publish({ type: "transcript", runId: running.id, seq: second, kind: "assistant", event: { seq: second, at: new Date(), kind: "assistant", data: { text: "Second." } } });
    // Signals may have been missed: the stream looks at the store, and at the run's status, which ended meanwhile.
    await server.store.appendEvent(running.id, "assistant", { text: "Fourth." });
    await server.store.transition(running.id, ["running"], { status: "completed", outcome: "succeeded", summary: "Done elsewhere.", finishedAt: new Date() });
    server.signals.publish({ type: "status", runId: running.id });
    await until("event: end");
    expect([...received.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]))).toEqual([1, 2, 3, 4]);
    expect(received.indexOf("Second.")).toBeLessThan(received.indexOf("Third."));
    expect(received).toContain("Done elsewhere.");
  });
});
