import { createHmac } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS } from "../../src/config/limits.js";
import { webhookReceiver, type ReceivedWebhook } from "../../src/github/receive-webhooks.js";

const SECRET = "receiver-secret";
const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function start(receive: (event: ReceivedWebhook) => Promise<void> = async () => undefined) {
  const received: ReceivedWebhook[] = [];
  const bodies = new Map<string, string>();
  const logs: string[] = [];
  const handler = webhookReceiver({
    path: "/api/github/webhooks",
    secret: SECRET,
    receive: async (event) => {
      received.push(event);
      await receive(event);
    },
    replayOf: async (hash, id) => {
      const earlier = bodies.get(hash);
      if (earlier === undefined) bodies.set(hash, id);
      return earlier === undefined || earlier === id ? undefined : earlier;
    },
    log: { warn: (_details, message) => logs.push(message), error: (_details, message) => logs.push(message) },
    answerWithinMs: 200,
  });
  server = createServer((req, res) => void handler(req, res).then((handled) => handled || res.writeHead(404).end()));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "d-1", "x-hub-signature-256": sign(body), ...headers }, body });
  return { url, post, received, logs };
}

describe("webhookReceiver", () => {
  it("hands a signed delivery to the handlers and answers 200 once they are done", async () => {
    const { post, received } = await start();
    const answer = await post('{"zen":"hi"}');
    expect(answer.status).toBe(200);
    expect(received).toEqual([{ id: "d-1", name: "ping", payload: { zen: "hi" } }]);
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
    expect((await post(body, { "x-github-delivery": "first" })).status).toBe(200);
    const replay = await post(body, { "x-github-delivery": "second" });
    expect(replay.status).toBe(409);
    expect(await replay.json()).toEqual({ error: "this body was already received as delivery first; a replay starts nothing" });
    expect((await post(body, { "x-github-delivery": "first" })).status).toBe(200);
    expect(received.map((event) => event.id)).toEqual(["first", "first"]);
    expect(logs).toContain("webhook delivery second was refused: its body was already received as delivery first; a replay starts nothing");
  });

  it("answers 202 only after the signature is verified, when the handlers take long", async () => {
    const { post } = await start(() => new Promise((resolve) => setTimeout(resolve, 1_000)));
    expect((await post('{"slow":true}')).status).toBe(202);
  });

  it("leaves other paths to other handlers", async () => {
    const { url } = await start();
    expect((await fetch(url.replace("/api/github/webhooks", "/healthz"))).status).toBe(404);
  });
});
