import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { privateKey } from "./support/github.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill();
  child = undefined;
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Starts the built server as `npm start` does and waits until it listens (or exits). */
async function start(env: Record<string, string>): Promise<{ output: () => string; exited: Promise<number | null>; dataDir: string }> {
  let output = "";
  const dataDir = await mkdtemp(join(tmpdir(), "routines-data-"));
  child = spawn(process.execPath, ["dist/server.js"], { cwd: ROOT, env: { PATH: process.env.PATH, NO_SMEE_SETUP: "true", LOG_LEVEL: "info", DATA_DIR: dataDir, ...env } });
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child?.on("exit", resolve));
  await Promise.race([
    exited,
    new Promise<void>((resolve) => {
      const poll = setInterval(() => /Listening on/.test(output) && (clearInterval(poll), resolve()), 50);
    }),
  ]);
  return { output: () => output, exited, dataDir };
}

describe("npm start", () => {
  it("shows Probot's setup page, which registers the app from app.yml, when no app is configured", async () => {
    const port = await freePort();
    await start({ PORT: String(port) });
    const root = await fetch(`http://localhost:${port}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/probot");

    const page = await (await fetch(`http://localhost:${port}/probot`)).text();
    const manifest = JSON.parse(/name="manifest" id="manifest" value='([^']*)'/.exec(page)?.[1] ?? "{}");
    expect(manifest).toMatchObject({
      name: "Routines",
      public: false,
      redirect_url: `http://localhost:${port}/probot/setup`,
      // The webhook path the server listens on, not Probot's default of the bare address, on this server's port.
      hook_attributes: { url: `http://localhost:${port}/api/github/webhooks` },
      callback_urls: [`http://localhost:${port}/dashboard/auth/callback`],
      default_events: ["pull_request", "release", "issues", "workflow_run", "deployment_status", "issue_comment", "push", "check_run", "pull_request_review_thread"],
      default_permissions: { contents: "write", pull_requests: "write", issues: "write", checks: "write", actions: "read", deployments: "read", metadata: "read" },
    });
  });

  it("registers the app with the addresses of ROUTINES_PUBLIC_URL, or a webhook proxy channel for webhooks", async () => {
    const manifestOf = async (env: Record<string, string>) => {
      const port = await freePort();
      await start({ PORT: String(port), ...env });
      const page = await (await fetch(`http://localhost:${port}/probot`)).text();
      child?.kill();
      return JSON.parse(/name="manifest" id="manifest" value='([^']*)'/.exec(page)?.[1] ?? "{}") as Record<string, unknown>;
    };
    expect(await manifestOf({ ROUTINES_PUBLIC_URL: "https://routines.example.com/" })).toMatchObject({
      hook_attributes: { url: "https://routines.example.com/api/github/webhooks" },
      callback_urls: ["https://routines.example.com/dashboard/auth/callback"],
    });
    expect(await manifestOf({ ROUTINES_PUBLIC_URL: "https://routines.example.com", WEBHOOK_PROXY_URL: "https://smee.io/abc123" })).toMatchObject({
      hook_attributes: { url: "https://smee.io/abc123" },
      callback_urls: ["https://routines.example.com/dashboard/auth/callback"],
    });
  });

  it("receives webhooks when the app is configured, and refuses unsigned ones", async () => {
    const port = await freePort();
    const { dataDir, output } = await start({ PORT: String(port), APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: "secret" });
    expect(existsSync(join(dataDir, "routines.db"))).toBe(true);
    const response = await fetch(`http://localhost:${port}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "1", "x-hub-signature-256": "sha256=0" },
      body: "{}",
    });
    expect(response.status).toBe(400);
    // Said when the app has loaded, which may come after the server listens.
    await expect.poll(output, { timeout: 10_000 }).toContain("ANTHROPIC_API_KEY is not set: runs are recorded and wait in the queue until it is");
  });

  it("receives webhooks through a webhook proxy channel (WEBHOOK_PROXY_URL), as in development", async () => {
    // A channel as smee.io serves it: server-sent events, each a delivery's headers and body.
    const payload = { zen: "Keep it logically awesome.", hook_id: 1 };
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac("sha256", "secret").update(body).digest("hex")}`;
    const channel = createHttpServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`event: ready\ndata: {}\n\n`);
      const delivery = { "x-github-event": "ping", "x-github-delivery": "proxied-1", "x-hub-signature-256": signature, body: payload, query: {}, timestamp: Date.now() };
      res.write(`data: ${JSON.stringify(delivery)}\n\n`);
    });
    await new Promise<void>((resolve) => channel.listen(0, "127.0.0.1", resolve));
    try {
      const port = await freePort();
      const channelUrl = `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel`;
      const { output } = await start({ PORT: String(port), APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: "secret", WEBHOOK_PROXY_URL: channelUrl });
      await expect.poll(output, { timeout: 20_000 }).toMatch(/POST http:\/\/[\w.]+:\d+\/api\/github\/webhooks - 20\d/);
      expect(output()).not.toContain("npm install --save-dev smee-client");
    } finally {
      channel.closeAllConnections();
      channel.close();
    }
  });

  it("keeps serving when the webhook proxy channel cannot be reached, and connects once it can", async () => {
    const payload = { zen: "Approachable is better than simple.", hook_id: 2 };
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac("sha256", "secret").update(body).digest("hex")}`;
    const channelPort = await freePort();
    const port = await freePort();
    const { output, exited } = await start({ PORT: String(port), APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: "secret", WEBHOOK_PROXY_URL: `http://127.0.0.1:${channelPort}/channel` });
    await expect.poll(output, { timeout: 20_000 }).toContain(`the webhook proxy channel http://127.0.0.1:${channelPort}/channel cannot be reached`);
    expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);

    // The channel comes up: the server connects on its next try and forwards what arrives.
    const channel = createHttpServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`event: ready\ndata: {}\n\n`);
      const delivery = { "x-github-event": "ping", "x-github-delivery": "proxied-2", "x-hub-signature-256": signature, body: payload, query: {}, timestamp: Date.now() };
      res.write(`data: ${JSON.stringify(delivery)}\n\n`);
    });
    await new Promise<void>((resolve) => channel.listen(channelPort, "127.0.0.1", resolve));
    try {
      await expect.poll(output, { timeout: 30_000 }).toMatch(/POST http:\/\/[\w.]+:\d+\/api\/github\/webhooks - 20\d/);
      expect(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("running"), 100))])).toBe("running");
    } finally {
      channel.closeAllConnections();
      channel.close();
    }
  });

  it("refuses to start a configured app without its own webhook secret, which would accept Probot's public default", async () => {
    for (const [secret, message] of [
      [undefined, "routines: WEBHOOK_SECRET is not set: copy the webhook secret from the app's settings on GitHub"],
      ["development", 'routines: WEBHOOK_SECRET is "development", a public default'],
    ] as const) {
      const port = await freePort();
      const { output, exited } = await start({ PORT: String(port), APP_ID: "1", PRIVATE_KEY: privateKey, ...(secret ? { WEBHOOK_SECRET: secret } : {}) });
      expect(await exited).toBe(1);
      expect(output()).toContain(message);
    }
  });

  it("stops with a message naming a bad setting", async () => {
    const { output, exited } = await start({ ROUTINES_MIN_SCHEDULE_INTERVAL: "sometimes" });
    expect(await exited).toBe(1);
    expect(output()).toContain('routines: ROUTINES_MIN_SCHEDULE_INTERVAL="sometimes" is not a duration; use a value such as "15m" or "1h"');
  });
});
