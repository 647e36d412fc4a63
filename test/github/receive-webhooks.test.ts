import { createHmac } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS } from "../../src/config/limits.js";
import { webhookReceiver } from "../../src/github/receive-webhooks.js";
import type { InboxEntry } from "../../src/runs/store.js";

const SECRET = "receiver-secret";
const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function start(enqueue?: (delivery: InboxEntry) => Promise<boolean>) {
  const received: Array<{ id: string; name: string; payload: unknown; orderingKey?: string }> = [];
  const bodies = new Map<string, string>();
  const logs: string[] = [];
  const record = async ({ id, name, body, orderingKey }: InboxEntry) => {
    if (received.some((delivery) => delivery.id === id)) return false;
    received.push({ id, name, payload: JSON.parse(body), ...(orderingKey ? { orderingKey } : {}) });
    return true;
  };
  const handler = webhookReceiver({
    path: "/api/github/webhooks",
    secret: SECRET,
    accept: async (delivery, hash) => {
      const earlier = bodies.get(hash);
      if (earlier !== undefined && earlier !== delivery.id) return { replayOf: earlier };
      const queued = await (enqueue ?? record)(delivery);
      // Remembered only once it is written, as in the store's one transaction.
      bodies.set(hash, delivery.id);
      return { queued };
    },
    log: { warn: (_details, message) => logs.push(message), error: (_details, message) => logs.push(message) },
  });
  server = createServer((req, res) => void handler(req, res).then((handled) => handled || res.writeHead(404).end()));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "d-1", "x-hub-signature-256": sign(body), ...headers }, body });
  return { url, post, received, logs };
}

describe("webhookReceiver", () => {
  it("writes a signed delivery to the inbox and answers 202 at once", async () => {
    const { post, received } = await start();
    const answer = await post('{"zen":"hi"}');
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ ok: "queued" });
    expect(received).toEqual([{ id: "d-1", name: "ping", payload: { zen: "hi" } }]);
  });

  it("answers a redelivery (same id) 202 and writes it once", async () => {
    const { post, received } = await start();
    expect((await post('{"zen":"hi"}')).status).toBe(202);
    const again = await post('{"zen":"hi"}');
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ ok: "already received" });
    expect(received).toHaveLength(1);
  });

  it("names what pull request and issue deliveries are about, for their order", async () => {
    const { post, received } = await start();
    const body = JSON.stringify({ action: "opened", pull_request: { number: 7 }, repository: { full_name: "Octo/App" } });
    expect((await post(body, { "x-github-event": "pull_request" })).status).toBe(202);
    expect(received[0]!.orderingKey).toBe("octo/app#7");
  });

  it.each([
    ["pull_request", '{"action":"opened","repository":{}}', 'this pull_request delivery needs "pull_request" (an object) in its payload'],
    ["issue_comment", '{"action":"created","issue":{},"repository":{}}', 'this issue_comment delivery needs "comment" (an object) in its payload'],
    ["push", '{"repository":{}}', 'this push delivery needs "ref" (a string) in its payload'],
    ["issues", '{"action":"opened","repository":{}}', 'this issues delivery needs "issue" (an object) in its payload'],
    ["workflow_run", '{"action":"completed","repository":{}}', 'this workflow_run delivery needs "workflow_run" (an object) in its payload'],
    ["deployment_status", '{"action":"created","deployment_status":{},"repository":{}}', 'this deployment_status delivery needs "deployment" (an object) in its payload'],
    ["ping", "[1,2]", "the body is not a JSON object"],
    ["ping", "{not json", "the body is not JSON"],
  ])("refuses a malformed %s delivery with 400 naming the problem", async (event, body, message) => {
    const { post, received } = await start();
    const answer = await post(body, { "x-github-event": event });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: message });
    expect(received).toEqual([]);
  });

  it("refuses a delivery without X-GitHub-Event with 400", async () => {
    const { url, received } = await start();
    const body = '{"zen":"hi"}';
    const answer = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-github-delivery": "d-1", "x-hub-signature-256": sign(body) }, body });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: "Required headers missing: x-github-event" });
    expect(received).toEqual([]);
  });

  it("answers 503 without internals when the inbox cannot be written, so that GitHub counts the delivery as failed", async () => {
    const { post, logs } = await start(async () => {
      throw new Error("SQLITE_FULL: database or disk is full at /var/lib/routines/routines.db");
    });
    const answer = await post('{"zen":"hi"}');
    expect(answer.status).toBe(503);
    expect(await answer.text()).not.toMatch(/SQLITE|routines\.db/);
    expect(logs).toContain("a webhook delivery could not be written to the inbox");
  });

  it("refuses a bad signature with 400 and hands nothing on", async () => {
    const { post, received, logs } = await start();
    expect((await post('{"zen":"hi"}', { "x-hub-signature-256": sign('{"zen":"hi"}', "other") })).status).toBe(400);
    expect(received).toEqual([]);
    expect(logs).toEqual(["a webhook delivery was refused: its signature does not match the body and WEBHOOK_SECRET"]);
  });

  it("refuses a body declared larger than GitHub's limit before reading it", async () => {
    const { url, received, logs } = await start();
    const status = await new Promise<number | undefined>((resolve) => {
      const req = request(url, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "big", "x-hub-signature-256": "sha256=00", "content-length": String(LIMITS.webhookBodyBytes + 1) } });
      req.on("response", (answer) => {
        resolve(answer.statusCode);
        req.destroy();
      });
      req.on("error", () => resolve(undefined));
      req.write("{");
    });
    expect(status).toBe(413);
    expect(received).toEqual([]);
    expect(logs[0]).toMatch(/^webhook body is larger than 25 MB/);
  });

  it("stops reading a body without a length once it passes the limit", async () => {
    const { url, received } = await start();
    const status = await new Promise<number | "reset">((resolve) => {
      const req = request(url, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "big", "x-hub-signature-256": "sha256=00" } });
      req.on("response", (answer) => {
        resolve(answer.statusCode!);
        req.destroy();
      });
      req.on("error", () => resolve("reset"));
      const chunk = Buffer.alloc(1024 * 1024, "a");
      let sent = 0;
      const write = () => {
        while (sent < 40) {
          sent++;
          if (!req.write(chunk)) return void req.once("drain", write);
        }
        req.end();
      };
      write();
    });
    expect([413, "reset"]).toContain(status);
    expect(received).toEqual([]);
  });

  it("starts nothing for the same body under a new delivery id, but lets GitHub's redelivery (same id) through", async () => {
    const { post, received, logs } = await start();
    const body = '{"action":"opened"}';
    expect((await post(body, { "x-github-delivery": "first" })).status).toBe(202);
    const replay = await post(body, { "x-github-delivery": "second" });
    expect(replay.status).toBe(409);
    expect(await replay.json()).toEqual({ error: "this body was already received as delivery first; a replay starts nothing" });
    expect((await post(body, { "x-github-delivery": "first" })).status).toBe(202);
    expect(received.map((event) => event.id)).toEqual(["first"]);
    expect(logs).toContain("webhook delivery second was refused: its body was already received as delivery first; a replay starts nothing");
  });

  it("leaves other paths to other handlers", async () => {
    const { url } = await start();
    expect((await fetch(url.replace("/api/github/webhooks", "/healthz"))).status).toBe(404);
  });
});
