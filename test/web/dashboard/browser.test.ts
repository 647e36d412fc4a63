// The dashboard in Debian's Chromium, driven by playwright-core: GitHub's OAuth page is answered at
// its edge (the browser's request to github.com is routed back to the callback; the server's own
// calls go to nock), and runs are executed by a real WorkerPool whose session the test steps.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { newApiToken } from "../../../src/runs/api-tokens.js";
import { cancelRun } from "../../../src/runs/cancel-run.js";
import { RunEvents } from "../../../src/runs/run-events.js";
import { LocalSignals } from "../../../src/runs/signals.js";
import { SqliteStore } from "../../../src/runs/sqlite-store.js";
import type { RunRecord } from "../../../src/runs/store.js";
import { WorkerPool, type ExecutionContext, type RunExecutor, type RunResult } from "../../../src/runs/worker-pool.js";
import { alice, changeRoutes, nockPermission, nockRoutines, nockSignIn, rita, ROUTINES, startDashboard, type DashboardServer } from "../../support/dashboard.js";
import { useNock } from "../../support/github.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(process.cwd(), "test", "artifacts");
// The flags the machine notes give: no sandbox as root, no GPU, and no calls home on a closed network.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** A session the test moves forward step by step, as a model and its tools would. */
class SteppedExecutor implements RunExecutor {
  readonly #waiting: Array<(context: ExecutionContext) => void> = [];
  #current: { context: ExecutionContext; finish: (result: RunResult) => void } | undefined;

  execute(_run: unknown, context: ExecutionContext): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      this.#current = { context, finish: resolve };
      context.signal.addEventListener("abort", () => reject(context.signal.reason));
      for (const waiter of this.#waiting.splice(0)) waiter(context);
    });
  }

  async started(): Promise<ExecutionContext> {
    return this.#current?.context ?? new Promise((resolve) => this.#waiting.push(resolve));
  }

  async step(kind: string, data: unknown): Promise<void> {
    await (await this.started()).record(kind, data);
  }

  finish(result: RunResult): void {
    this.#current?.finish(result);
    this.#current = undefined;
  }
}

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI) throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium package`);

describe.skipIf(!hasChromium)("dashboard in a browser", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let server: DashboardServer;
  let pool: WorkerPool;
  let executor: SteppedExecutor;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });
  afterAll(() => browser?.close());

  useNock();
  beforeEach(async () => {
    const store = new SqliteStore(":memory:");
    const signals = new LocalSignals();
    const events = new RunEvents(signals, store);
    executor = new SteppedExecutor();
    const observer = { started: async (run: RunRecord) => events.status(run), finished: async (run: RunRecord) => events.status(run) };
    pool = new WorkerPool(store, executor, { concurrency: 1, pollInterval: 60_000, observer, signals });
    pool.onEvent((runId, event) => events.event(runId, event));
    server = await startDashboard({ store, events, signals, cancelRun: (runId, reason) => cancelRun({ store, events, observer }, runId, reason), onQueued: () => pool.wake() });
    await pool.start();
    // bypassCSP only so that the test can inject axe-core; the pages themselves run under their CSP.
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    page = await context.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    // GitHub's authorize page, answered as GitHub does once the user approves: back to the callback.
    await context.route("https://github.com/login/oauth/authorize**", async (route) => {
      const authorize = new URL(route.request().url());
      expect(authorize.searchParams.get("client_id")).toBe("Iv1.dashboardtest");
      await route.fulfill({ status: 302, headers: { location: `${server.base}/dashboard/auth/callback?code=oauth-code&state=${authorize.searchParams.get("state")}` } });
    });
  });
  afterEach(async () => {
    await context?.close();
    await pool?.stop();
    await server?.close();
  });

  const signIn = async () => {
    nockSignIn(alice);
    await page.goto(`${server.base}/dashboard`);
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    // Not waitForURL: the page is already at /dashboard before the click, so it would not wait for
    // the sign-in's redirects, and the next step would race their navigation.
    await page.getByText("Signed in as alice").waitFor();
    expect(page.url()).toBe(`${server.base}/dashboard`);
  };

  /** Signed in as alice, on acme/app's page, with GitHub ready to confirm her write permission. */
  const openRepository = async () => {
    await signIn();
    nockRoutines(42, ROUTINES);
    await page.getByRole("link", { name: "acme/app", exact: true }).click();
    nockPermission(42, { owner: "acme", repo: "app" }, "alice", "write");
  };

  const screenshot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** axe-core's WCAG A and AA rules on the current page. */
  const accessibilityViolations = async () => {
    await page.addScriptTag({ path: axeSource });
    return page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(options: object): Promise<{ violations: Array<{ id: string; nodes: unknown[] }> }> } }).axe;
      const { violations } = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
      return violations.map((violation) => `${violation.id} (${violation.nodes.length})`);
    });
  };

  it("signs in with GitHub and shows only the repositories GitHub lists for the user", async () => {
    await page.goto(`${server.base}/dashboard`);
    await screenshot("sign-in");
    await signIn();
    await page.getByText("Signed in as alice").waitFor();
    const links = await page.getByRole("main").getByRole("link").allTextContents();
    expect(links.filter((text) => text.includes("/"))).toEqual(["acme/app", "runs of acme/app", "acme/docs", "runs of acme/docs"]);
    expect(await accessibilityViolations()).toEqual([]);
    await screenshot("home");

    nockRoutines(42, ROUTINES);
    await page.getByRole("link", { name: "acme/app", exact: true }).click();
    await page.getByRole("heading", { name: "nightly" }).waitFor();
    expect(await page.getByText("weekdays at 09:00 (Europe/Berlin)").count()).toBe(1);
    expect(await accessibilityViolations()).toEqual([]);
    await screenshot("repository");
  });

  it("starts a run now and shows its transcript growing live, then its end", async () => {
    await openRepository();
    await page.getByLabel("Extra instructions for this run (optional)").first().fill("focus on the auth changes");
    await page.getByRole("button", { name: "Run review now" }).click();
    await page.waitForURL(/\/dashboard\/runs\/run_/);

    await executor.started();
    await page.getByText("This run is going on").waitFor();
    await executor.step("assistant", { text: "Reading the diff of src/auth.ts." });
    await page.getByText("Reading the diff of src/auth.ts.").waitFor();
    await executor.step("tool_call", { id: "t1", name: "shell", input: { command: "npm test -- auth" } });
    await executor.step("tool_result", { id: "t1", name: "shell", output: Array.from({ length: 40 }, (_, i) => `ok ${i + 1} auth test`).join("\n"), isError: false });
    await page.getByText("Result (40 lines").waitFor();
    expect(await page.locator("#transcript > li").count()).toBe(3);
    expect(await page.getByText("ok 40 auth test").isVisible()).toBe(false);
    await page.getByText("Result (40 lines").click();
    expect(await page.getByText("ok 40 auth test").isVisible()).toBe(true);
    expect(await accessibilityViolations()).toEqual([]);
    await screenshot("run-live");

    executor.finish({ outcome: "succeeded", summary: "No problems in the auth changes.", usage: { inputTokens: 1200, cacheReadTokens: 9000, cacheWriteTokens: 300, outputTokens: 450 } });
    await page.locator("#run-state").getByText("completed").waitFor();
    expect(await page.locator("#run-state").getByText("succeeded").count()).toBe(1);
    expect(await page.getByText("No problems in the auth changes.").count()).toBe(1);
    expect(await page.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    await screenshot("run-finished");

    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot("run-phone");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it("cancels a running run from its page", async () => {
    await openRepository();
    await page.getByRole("button", { name: "Run nightly now" }).click();
    await page.waitForURL(/\/dashboard\/runs\/run_/);
    await executor.started();
    await page.reload();
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator("#run-state").getByText("cancelled", { exact: true }).waitFor();
    expect(await page.locator("#run-state").getByText("cancelled by alice in the dashboard").count()).toBe(1);
    // The request is in the transcript too.
    expect(await page.getByText("Cancel requested: cancelled by alice in the dashboard").count()).toBe(1);

    await page.getByRole("link", { name: "Runs", exact: true }).click();
    await page.getByLabel("Status").selectOption("cancelled");
    await page.getByRole("button", { name: "Filter" }).click();
    expect(await page.locator("tbody tr").count()).toBe(1);
    expect(await accessibilityViolations()).toEqual([]);
    await screenshot("runs");
  });

  it("creates an API token, shows it once, and revokes it", async () => {
    await openRepository();
    await page.getByRole("button", { name: "Create a token" }).click();
    const secret = (await page.locator("#token-secret").textContent())!;
    expect(secret).toMatch(/^rtn_/);
    expect(await page.locator("#curl-example").textContent()).toContain(`Bearer ${secret}`);
    expect(await accessibilityViolations()).toEqual([]);
    await screenshot("token-created");

    await page.getByRole("link", { name: "Back to triage" }).click();
    const [token] = await server.store.listApiTokens();
    await page.getByText(token!.triggerId).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole("button", { name: `Revoke ${token!.triggerId}` }).click();
    await page.getByText(/^revoked/).waitFor();
  });

  it("turns every routine of the installation off and on", async () => {
    await signIn();
    await page.getByRole("button", { name: "Turn off all routines" }).click();
    await page.getByText("All routines are off").waitFor();
    expect(await server.store.isInstallationDisabled(42)).toBe(true);
    await screenshot("kill-switch-off");
    await page.getByRole("button", { name: "Turn routines on" }).click();
    await page.getByText("Routines are on for acme").waitFor();
    expect(await server.store.isInstallationDisabled(42)).toBe(false);
  });

  it("answers 403 to every change by a user without write permission", async () => {
    nockSignIn(rita);
    await page.goto(`${server.base}/dashboard`);
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await page.getByText("Signed in as rita").waitFor();
    expect(await page.getByRole("button", { name: /Turn off/ }).count()).toBe(0);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const queued = await server.store.insertRun({
      id: "run_0000000000000000000a", routine: "review", repository: { owner: "acme", repo: "app" }, installationId: 42, configSha: "sha",
      trigger: { kind: "manual", user: "alice" }, context: { withoutSecrets: false }, status: "queued", createdAt: new Date(),
    });
    expect(queued.inserted).toBe(true);
    const { record } = newApiToken({ owner: "acme", repo: "app" }, "triage");
    await server.store.createApiToken(record);
    await pool.stop();
    for (const path of changeRoutes("run_0000000000000000000a", record.triggerId)) {
      // The browser's own cookies and the page's CSRF token: only the permission is missing.
      const response = await page.request.post(`${server.base}${path}`, { form: { _csrf: csrf, disabled: "true" }, maxRedirects: 0 });
      expect(response.status(), path).toBe(403);
    }
    expect((await server.store.getRun("run_0000000000000000000a"))?.status).toBe("queued");
    expect(await server.store.isInstallationDisabled(42)).toBe(false);
    expect((await server.store.getApiToken(record.triggerId))?.revokedAt).toBeUndefined();
  });

  it("can be used with the keyboard alone", async () => {
    await signIn();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Turn off all routines") break;
    }
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Turn off all routines");
    await page.keyboard.press("Enter");
    await page.getByText("All routines are off").waitFor();
  });
});
