// The other ways a run starts, through the built server configured only by its `.env`: the HTTP
// API with a token made by the `routines` command, and the dashboard's Run now and Cancel after a
// sign-in through GitHub's OAuth endpoints. The server's database lives where `.env`'s DATA_DIR says.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/site";

let world: World;
let server: ServerProcess;

const METRICS_TOKEN = "e2e-metrics-token";

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(31, "acme");
  await world.github.addRepository(REPO, 31, {
    "README.md": "site\n",
    ".claude/routines.yml": routinesYml({ triage: { prompt: "Triage the alert.", triggers: [{ api: {} }] } }),
  });
  world.github.permissions.set(`${REPO}:writer`, "write");
  world.github.signedInUser = "writer";
  server = await world.startServer({ extra: { DATA_DIR: "./state", GITHUB_CLIENT_ID: "Iv1.e2e", GITHUB_CLIENT_SECRET: "e2e-client-secret", ROUTINES_METRICS_TOKEN: METRICS_TOKEN } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** The `routines` command in the server's directory, with nothing in its environment but PATH: it reads `.env` as the server does. */
async function routines(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  return stdout;
}

/** Signs in through the fake GitHub's authorize page, as a browser following the redirects would. */
async function signIn(): Promise<Browser> {
  const browser = new Browser(server.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  expect(start.headers.get("location")).toMatch(new RegExp(`^${world.github.url}/login/oauth/authorize\\?`));
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  const back = await browser.fetch(`${callback.pathname}${callback.search}`);
  expect(back.status).toBe(303);
  return browser;
}

describe("entry points, configured by .env", () => {
  it("keeps its database under DATA_DIR from .env, where the routines command finds it", async () => {
    expect(existsSync(join(server.cwd, "state", "routines.db"))).toBe(true);
    expect(await routines("runs")).toBe("No runs yet.\n");
  });

  it("serves /metrics only to a scraper with the token from .env, and /healthz to anyone", async () => {
    for (const authorization of [undefined, "Bearer wrong-token", `Basic ${METRICS_TOKEN}`]) {
      const refused = await fetch(`${server.url}/metrics`, authorization ? { headers: { authorization } } : {});
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain("routines_");
    }
    const scraped = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("routines_runs");
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("starts a run from the HTTP API with a token the routines command made, the text framed as untrusted", async () => {
    const created = await routines("token", "create", "--repo", REPO, "--routine", "triage");
    const url = /URL\s+(\S+)/.exec(created)![1]!;
    const token = /token\s+(\S+)/.exec(created)![1]!;
    expect(url).toMatch(new RegExp(`^http://localhost:${server.port}/api/v1/routines/[^/]+/fire$`));
    const local = new URL(url).pathname;

    const refused = await fetch(`${server.url}${local}`, { method: "POST", headers: { authorization: "Bearer wrong", "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(401);

    world.model.session("[case-api]", [outcome("Triaged.")]);
    const fired = await fetch(`${server.url}${local}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "CPU at 100% on web-3 [case-api]" }),
    });
    expect(fired.status).toBeLessThan(300);
    const { run_id: runId } = (await fired.json()) as { run_id: string };
    const [first] = await eventually(() => world.model.sessionRequests("[case-api]").length > 0 && world.model.sessionRequests("[case-api]"), { what: "the API run's session" });
    const prompt = JSON.stringify(first!.body.messages[0]);
    expect(prompt).toContain("CPU at 100% on web-3");
    expect(prompt).toMatch(/untrusted/i);
    await eventually(async () => (await routines("runs", "show", runId)).match(/completed/), { what: "the run to complete, as the routines command shows it" });
    // The bearer token never reaches a log line.
    expect(server.output()).toContain(local);
    expect(server.output()).not.toContain(token);
  });

  it("Two API fires with the same idempotency key start one run and both answers name it", async () => {
    const created = await routines("token", "create", "--repo", REPO, "--routine", "triage");
    const local = new URL(/URL\s+(\S+)/.exec(created)![1]!).pathname;
    const token = /token\s+(\S+)/.exec(created)![1]!;
    const key = `alert-${randomUUID()}`;
    const fire = () =>
      fetch(`${server.url}${local}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ text: "Disk full on db-1 [case-idempotent]" }),
      });
    world.model.session("[case-idempotent]", [outcome("Cleaned up.")]);
    // Sent together, as a monitor that retries before the first answer arrives would.
    const [first, second] = await Promise.all([fire(), fire()]);
    expect([first!.status, second!.status]).toEqual([200, 200]);
    const answers = (await Promise.all([first!.json(), second!.json()])) as Array<{ run_id: string; run_url: string }>;
    expect(answers[1]).toEqual(answers[0]);
    const { run_id: runId } = answers[0]!;
    await eventually(async () => /completed/.test(await routines("runs", "show", runId)), { what: "the run to complete" });
    // A retry after the run finished still names it, and only one session ever started.
    const late = await fire();
    expect(late.headers.get("idempotent-replayed")).toBe("true");
    expect(((await late.json()) as { run_id: string }).run_id).toBe(runId);
    expect(world.model.sessionRequests("[case-idempotent]").filter((request) => request.body.messages.length === 1)).toHaveLength(1);
    // The key never reaches a log line or the database in the clear.
    expect(server.output()).not.toContain(key);
    for (const file of ["routines.db", "routines.db-wal"].map((name) => join(server.cwd, "state", name)).filter((file) => existsSync(file))) {
      expect(readFileSync(file).includes(key)).toBe(false);
    }
  });

  it("stops a running run when the routines command throws the kill switch, refuses new ones, and runs again once switched back", async () => {
    const created = await routines("token", "create", "--repo", REPO, "--routine", "triage");
    const local = new URL(/URL\s+(\S+)/.exec(created)![1]!).pathname;
    const token = /token\s+(\S+)/.exec(created)![1]!;
    const fire = (text: string) =>
      fetch(`${server.url}${local}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text }) });

    world.model.session("[case-kill]", [{ ...outcome("Too late."), delayMs: 60_000 }]);
    const { run_id: runId } = (await (await fire("Slow one [case-kill]")).json()) as { run_id: string };
    await eventually(() => world.model.sessionRequests("[case-kill]").length > 0, { what: "the slow session to start" });
    expect(await routines("disable", "31")).toContain("Disabled routines for installation 31");
    // The server notices within its poll interval, though another process threw the switch.
    await eventually(async () => /cancelled[^]*kill switch/.test(await routines("runs", "show", runId)), { what: "the run to be cancelled by the kill switch" });

    const refused = await fire("Another [case-kill-refused]");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toContain("kill switch");

    await routines("enable", "31");
    world.model.session("[case-kill-after]", [outcome("Back.")]);
    const again = (await (await fire("After [case-kill-after]")).json()) as { run_id: string };
    await eventually(async () => /completed/.test(await routines("runs", "show", again.run_id)), { what: "a run after the switch is back on" });
  });

  it("signs in through GitHub, starts a run with Run now, and cancels another", async () => {
    const browser = await signIn();
    const home = await (await browser.fetch("/dashboard")).text();
    expect(home).toContain(REPO);
    const csrf = await browser.csrf();

    world.model.session("[case-run-now]", [outcome("Done from the dashboard.")]);
    const started = await browser.post(`/dashboard/repos/${REPO}/routines/triage/run`, { _csrf: csrf, text: "Look at the logs [case-run-now]" });
    expect(started.status).toBe(303);
    const runPath = started.headers.get("location")!;
    await eventually(async () => /completed/.test(await (await browser.fetch(runPath)).text()), { what: "the dashboard's run to complete" });
    expect(JSON.stringify(world.model.sessionRequests("[case-run-now]")[0]!.body.messages[0])).toContain("Look at the logs");

    // A run whose session takes long, cancelled from its page.
    world.model.session("[case-cancel]", [{ ...outcome("Too late."), delayMs: 20_000 }]);
    const slow = await browser.post(`/dashboard/repos/${REPO}/routines/triage/run`, { _csrf: csrf, text: "Slow one [case-cancel]" });
    const slowPath = slow.headers.get("location")!;
    await eventually(() => world.model.sessionRequests("[case-cancel]").length > 0, { what: "the slow session to start" });
    const cancelled = await browser.post(`${slowPath}/cancel`, { _csrf: csrf });
    expect(cancelled.status).toBe(303);
    await eventually(async () => /cancelled by writer in the dashboard/.test(await (await browser.fetch(slowPath)).text()), { what: "the run to show as cancelled" });
    // Nor do session cookies.
    for (const value of browser.cookies.values()) expect(server.output()).not.toContain(value);
  });
});
