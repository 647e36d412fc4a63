// Receives GitHub's webhook deliveries, in place of Probot's own middleware, which reads a body of
// any size into memory and answers `202` after 9 s even when the signature has not been checked
// yet. Here a body over GitHub's own limit is refused before it is read (by its Content-Length) or
// as soon as it grows past it; nothing is answered 2xx before the signature is verified; and a
// signed body that was already received under another delivery id (a captured delivery played
// again) starts nothing. A verified delivery is written to the inbox in the store and answered
// `202` at once; its handlers run from the inbox (InboxProcessor), so a slow handler never delays
// an answer and a stopped server loses nothing it acknowledged. A redelivery (same id) is
// answered `202` again and handled once.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { formatBytes, LIMITS } from "../config/limits.js";
import type { DeliveryAcceptance, InboxEntry } from "../runs/store.js";
import { deliveryProblem } from "./delivery-problem.js";
import { orderingKeyOf } from "./delivery-ordering.js";

export interface ReceivedWebhook {
  id: string;
  name: string;
  payload: unknown;
}

export interface WebhookReceiverOptions {
  /** Where GitHub posts deliveries (Probot's webhook path). */
  path: string;
  /** WEBHOOK_SECRET; without it no delivery can be verified, so none is accepted. */
  secret: string | undefined;
  /** Writes a verified delivery to the inbox unless its body is a replay (RunStore.acceptDelivery). */
  accept(delivery: InboxEntry, bodyHash: string): Promise<DeliveryAcceptance>;
  log: { warn(details: object, message: string): void; error(details: object, message: string): void };
}

const JSON_TYPE = /^\s*application\/json\s*(?:;|$)/i;
/** Bytes of bodies being read right now, all requests together. */
let bytesInFlight = 0;

const trimSlashes = (path: string) => path.replace(/\/+$/, "") || "/";

function answer(res: ServerResponse, status: number, message: string, close = false): true {
  if (!res.headersSent) {
    res.writeHead(status, { "content-type": "application/json", ...(close ? { connection: "close" } : {}) });
    res.end(JSON.stringify(status < 300 ? { ok: message } : { error: message }));
  }
  return true;
}

type Body = { ok: true; bytes: Buffer } | { ok: false; status: number; message: string };

/** Reads the body, stopping as soon as it is larger than the limit or the server's bytes in flight run out. */
function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (body: Body) => {
      if (done) return;
      done = true;
      bytesInFlight -= size;
      req.removeListener("data", onData);
      if (!body.ok) req.pause();
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      bytesInFlight += chunk.length;
      if (size > LIMITS.webhookBodyBytes) return finish({ ok: false, status: 413, message: `the body is larger than ${formatBytes(LIMITS.webhookBodyBytes)}, GitHub's own limit` });
      if (bytesInFlight > LIMITS.webhookBytesInFlight) return finish({ ok: false, status: 503, message: "too many large deliveries at once; try again" });
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish({ ok: true, bytes: Buffer.concat(chunks) }));
    req.once("error", (error) => finish({ ok: false, status: 400, message: `the body could not be read: ${error.message}` }));
    req.once("close", () => finish({ ok: false, status: 400, message: "the connection closed before the body was read" }));
  });
}

function signatureMatches(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A request handler for the webhook path; false for any other request. */
export function webhookReceiver(options: WebhookReceiverOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const path = trimSlashes(options.path);
  const { log } = options;
  return async (req, res) => {
    let pathname: string;
    try {
      pathname = trimSlashes(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return false;
    }
    if (pathname !== path) return false;
    if (req.method !== "POST") return answer(res, 404, `Unknown route: ${req.method} ${pathname}`);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const [name, id, signature] = [header("x-github-event"), header("x-github-delivery"), header("x-hub-signature-256")];
    const details = { event: name, delivery: id };
    if (!JSON_TYPE.test(header("content-type") ?? "")) return answer(res, 415, 'Unsupported "Content-Type" header value. Must be "application/json"', true);
    const missing = [["x-github-event", name], ["x-hub-signature-256", signature], ["x-github-delivery", id]].filter(([, value]) => !value).map(([key]) => key);
    if (missing.length > 0) return answer(res, 400, `Required headers missing: ${missing.join(", ")}`, true);
    if (!options.secret) {
      log.error(details, "a webhook delivery was refused: WEBHOOK_SECRET is not set, so no delivery can be verified");
      return answer(res, 503, "the server cannot verify deliveries", true);
    }
    const declared = Number(header("content-length"));
    if (Number.isFinite(declared) && declared > LIMITS.webhookBodyBytes) {
      log.warn({ ...details, bytes: declared }, `webhook body is larger than ${formatBytes(LIMITS.webhookBodyBytes)}, GitHub's own limit: refused before reading it`);
      return answer(res, 413, `the body is larger than ${formatBytes(LIMITS.webhookBodyBytes)}, GitHub's own limit`, true);
    }
    const body = await readBody(req);
    if (!body.ok) {
      log.warn({ ...details, status: body.status }, `webhook body is larger than ${formatBytes(LIMITS.webhookBodyBytes)} or could not be read: refused (${body.message})`);
      return answer(res, body.status, body.message, true);
    }
    if (!signatureMatches(options.secret, body.bytes, signature!)) {
      log.warn(details, "a webhook delivery was refused: its signature does not match the body and WEBHOOK_SECRET");
      return answer(res, 400, "signature does not match event payload and secret");
    }
    let payload: unknown;
    const text = body.bytes.toString("utf8");
    try {
      payload = JSON.parse(text);
    } catch {
      log.warn(details, "a webhook delivery was refused: its body is not JSON");
      return answer(res, 400, "the body is not JSON");
    }
    const problem = deliveryProblem(name!, payload);
    if (problem) {
      log.warn(details, `a webhook delivery was refused: ${problem}`);
      return answer(res, 400, problem);
    }
    try {
      const orderingKey = orderingKeyOf(payload);
      const delivery = { id: id!, name: name!, body: text, ...(orderingKey ? { orderingKey } : {}), receivedAt: new Date() };
      const accepted = await options.accept(delivery, createHash("sha256").update(body.bytes).digest("hex"));
      if ("replayOf" in accepted) {
        const earlier = accepted.replayOf;
        log.warn({ ...details, earlier }, `webhook delivery ${id} was refused: its body was already received as delivery ${earlier}; a replay starts nothing`);
        return answer(res, 409, `this body was already received as delivery ${earlier}; a replay starts nothing`);
      }
      return answer(res, 202, accepted.queued ? "queued" : "already received");
    } catch (error) {
      // Not acknowledged: GitHub records the delivery as failed, and it can be redelivered.
      log.error({ ...details, err: error }, "a webhook delivery could not be written to the inbox");
      return answer(res, 503, "the delivery could not be stored; redeliver it later");
    }
  };
}
