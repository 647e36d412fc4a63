// A new team's first hour, as the README's Getting started tells it: the server starts without an
// app and serves Probot's setup page, whose manifest names this server's webhook URL; GitHub's
// manifest flow hands back a code, which the server turns into the app's credentials in `.env`;
// after a restart the app runs from that `.env` alone, dashboard sign-in included; with the model
// key added and the app installed on a repository whose routines `routines init` wrote, the first
// pull request gets a review.
import { execFile } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL_KEY } from "../support/fake-model.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, eventually, ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, startWorld, WEBHOOK_SECRET, type World } from "./support/world.js";

const exec = promisify(execFile);

let world: World;
let server: ServerProcess | undefined;

beforeAll(async () => {
  world = await startWorld();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  server?.killGroup();
  await world?.close();
});

describe("the first run", () => {
  it("registers the app through the setup page, writes .env, and after a restart signs users in with what it wrote", async () => {
    // Only where GitHub is (GitHub Enterprise Server here), and no webhook proxy channel (smee.io is out of reach): no app yet.
    server = await ServerProcess.start({ dotenv: { GHE_HOST: world.github.host, GHE_PROTOCOL: "http", NO_SMEE_SETUP: "true" }, readyPath: "/probot" });
    const setup = await (await fetch(`${server.url}/probot`)).text();
    expect(setup).toContain("Register GitHub App");
    // The app is registered with this server's webhook path and port, not app.yml's localhost:3000.
    const manifest = JSON.parse(/name="manifest" id="manifest" value='([^']*)'/.exec(setup)?.[1] ?? "{}");
    expect(manifest.hook_attributes.url).toBe(`http://localhost:${server.port}/api/github/webhooks`);

    // The user confirms the manifest on GitHub, which sends the browser back with a code.
    world.github.manifestCodes.set("manifest-code", { name: "Routines", webhookSecret: WEBHOOK_SECRET });
    const back = await fetch(`${server.url}/probot/setup?code=manifest-code`, { redirect: "manual" });
    expect(back.status).toBe(302);
    const dotenv = await readFile(join(server.cwd, ".env"), "utf8");
    for (const name of ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"]) expect(dotenv).toMatch(new RegExp(`^${name}=`, "m"));

    // Restarted as the setup page says: the app runs from .env, and the dashboard can sign people in.
    expect(await server.stop()).toBe(0);
    await server.restart({ readyPath: "/healthz" });
    const signIn = await fetch(`${server.url}/dashboard/auth/sign-in`, { redirect: "manual" });
    const authorize = new URL(signIn.headers.get("location") ?? "");
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${world.github.url}/login/oauth/authorize`);
    expect(authorize.searchParams.get("client_id")).toBe("Iv1.manifest");
    // The app's own calls to GitHub authenticate with the key from .env.
    const listed = await eventually(() => world.github.find("GET", "/app/installations").at(-1), { what: "the app to list its installations" });
    expect(listed.auth.kind).toBe("app");
  });

  it("with the model key in .env and the app installed, the first pull request on a repository set up by routines init gets a review", async () => {
    const { github, model } = world;
    // Step 4 and 5: the model key goes into .env, and the server is restarted.
    await appendFile(join(server!.cwd, ".env"), `\nANTHROPIC_API_KEY=${MODEL_KEY}\nANTHROPIC_BASE_URL=${model.url}\n`);
    expect(await server!.stop()).toBe(0);
    await server!.restart({ readyPath: "/healthz" });

    // Step 6 and 7: the app is installed on a repository, whose .claude/ routines init wrote.
    const checkout = await mkdtemp(join(tmpdir(), "routines-e2e-first-"));
    await exec("git", ["init", "-q", checkout]);
    const { stdout } = await exec(process.execPath, [CLI, "init", "--use", "review"], { cwd: checkout, env: { PATH: process.env.PATH } });
    expect(stdout).toContain(".claude/routines.yml: valid, 1 routine (review)");
    const files: Record<string, string> = { "greet.js": "export const greet = (name) => `Hello, ${name}!`;\n" };
    for (const path of await readdir(join(checkout, ".claude"), { recursive: true })) {
      if (/\.(md|yml)$/.test(path)) files[`.claude/${path}`] = await readFile(join(checkout, ".claude", path), "utf8");
    }
    github.addInstallation(71, "first-team");
    await github.addRepository("first-team/site", 71, files);

    // Step 8: a pull request, delivered where the manifest registered the webhook.
    await github.commit("first-team/site", "fix-greeting", { "greet.js": "export const greet = (name) => `Hello ${name}`;\n" });
    const pull = await github.openPullRequest("first-team/site", { head: "fix-greeting", title: "Shorter greeting", user: "newcomer" });
    const marker = "Review this pull request as a careful senior engineer of this team would";
    model.session(marker, [
      call("create_review", { body: "One question.", event: "COMMENT", comments: [{ path: "greet.js", line: 1, body: "The comma after Hello is gone: was that on purpose?" }] }),
      outcome("Reviewed: one question."),
    ]);
    const answer = await server!.deliver("pull_request", await pullRequestEvent(github, "first-team/site", pull.number, "opened"), { secret: WEBHOOK_SECRET });
    expect(answer.status).toBeLessThan(300);
    const review = await eventually(() => github.reviews.find((r) => r.repository === "first-team/site" && r.pull === pull.number), { what: "the first review" });
    expect(review.comments).toMatchObject([{ path: "greet.js", line: 1, body: expect.stringContaining("comma after Hello") }]);
    const head = await github.sha("first-team/site", "refs/heads/fix-greeting");
    await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.name === "routines/review" && c.status === "completed" && c.conclusion === "success"), { what: "the review's check to succeed" });
  });
});
