// A new team's first run, as the README tells it: the server starts without an app and serves
// Probot's setup page; GitHub's manifest flow hands back a code, which the server turns into the
// app's credentials in `.env`; after a restart the app runs from that `.env` alone, dashboard
// sign-in included.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, startWorld, WEBHOOK_SECRET, type World } from "./support/world.js";

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
    const setup = await fetch(`${server.url}/probot`);
    expect(await setup.text()).toContain("Register GitHub App");

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
});
