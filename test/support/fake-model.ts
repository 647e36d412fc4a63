// A scripted stand-in for the Anthropic Messages API, over real HTTP on loopback. It plays the
// turns it is given, records every request, answers streaming requests with server-sent events
// the way the real API does, and reports cache usage the way the real API does: what an earlier
// request cached at a breakpoint is read back when a later request starts with it.
//
// Scripts are either one list for every request in order, or sessions keyed by a marker in the
// first user message: a session's turn is the number of assistant messages in the request, so
// several sessions can run at once and a retried session replays from its first step.
//
// With a `wire` option it speaks a cloud platform's wire format instead, as Anthropic's SDKs for
// them send it: Amazon Bedrock (InvokeModel paths, SigV4-signed requests checked against the
// expected keys, AWS event-stream framing) or Google Vertex AI (rawPredict paths, a bearer token
// or a service account's self-signed JWT).
import { verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

type Block = { type: "text"; text: string } | { type: "tool_use"; name: string; input: unknown; id?: string };

export type StopReason = "end_turn" | "tool_use" | "max_tokens" | "refusal" | "model_context_window_exceeded" | "pause_turn";

export type ScriptedTurn =
  | {
      content: Block[];
      stop_reason?: StopReason;
      delayMs?: number;
      /** Streaming only: cut the last tool call's input JSON after this many characters (a reply cut by max_tokens). */
      truncateInputAt?: number;
    }
  | { error: { status: number; type: string; message: string }; delayMs?: number; retryAfter?: string };

export interface RecordedRequest {
  headers: IncomingMessage["headers"];
  body: any; // the JSON body as sent: tests read the fields they check
  /** The request's path and query, as sent. */
  url?: string;
  /** Why the fake refused the request's credentials, when it did. */
  refused?: string;
  /** The prompt's tokens as this fake counted them, for requests it answered with a message. */
  usage?: { cacheRead: number; cacheWrite: number };
}

/** The wire a fake speaks: the Claude API's (default), Amazon Bedrock's or Google Vertex AI's. */
export type FakeWire =
  | { kind: "anthropic" }
  | { kind: "bedrock"; accessKeyId: string; secretAccessKey: string; sessionToken?: string; region: string }
  | {
      kind: "vertex";
      /** The bearer token expected as it is. */
      accessToken: string;
      project: string;
      region: string;
      /** Instead of the token: a service account's self-signed JWT (RS256), checked against its public key. */
      serviceAccount?: { email: string; publicKey: string };
    };

export interface FakeModelOptions {
  wire?: FakeWire;
  /**
   * How cache reads are counted. "any-breakpoint" (the default): the longest prefix any earlier
   * request cached at one of its breakpoints. "previous-request": per session (first user message),
   * what the previous request cached at its breakpoints (the end of the tools, the end of the
   * conversation) that this one starts with, as the API's cache is used by a conversation that
   * sends its prompt again with a new turn; linear in the prompt's size, for long sessions.
   */
  cache?: "any-breakpoint" | "previous-request";
}

/** A session's turn, from its turn number (0 for the first model call) and how often that turn was asked. */
export type SessionScript = ScriptedTurn[] | ((turn: number, attempt: number, request: RecordedRequest) => ScriptedTurn);

export interface FakeModel {
  url: string;
  requests: RecordedRequest[];
  /** Plays `script` for every request whose first user message contains `marker`. */
  session(marker: string, script: SessionScript): void;
  /** The requests of the session with this marker, in order. */
  sessionRequests(marker: string): RecordedRequest[];
  close(): Promise<void>;
}

export const MODEL_KEY = "test-model-key";

const stripCacheControl = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(stripCacheControl);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "cache_control").map(([key, inner]) => [key, stripCacheControl(inner)]));
  }
  return value;
};
const tokens = (text: string) => Math.ceil(text.length / 4);

/** The text of the first user message: where sessions find their marker. */
export function firstUserText(body: any): string {
  const first = body?.messages?.[0];
  if (!first) return "";
  if (typeof first.content === "string") return first.content;
  return (first.content as Array<{ type: string; text?: string }>).map((block) => block.text ?? "").join("\n");
}

export async function startFakeModel(script: ScriptedTurn[] | ((index: number, request: RecordedRequest) => ScriptedTurn) = [], options: FakeModelOptions = {}): Promise<FakeModel> {
  const wire = options.wire ?? { kind: "anthropic" };
  const requests: RecordedRequest[] = [];
  const previous = new Map<string, { prefix: string; whole: string }>();
  const sessions = new Map<string, { script: SessionScript; requests: RecordedRequest[]; attempts: Map<number, number> }>();
  const cached = new Set<string>();
  let served = 0;

  const turnFor = (recorded: RecordedRequest, index: number): ScriptedTurn | undefined => {
    const text = firstUserText(recorded.body);
    for (const [marker, session] of sessions) {
      if (!text.includes(marker)) continue;
      session.requests.push(recorded);
      const turn = (recorded.body.messages as Array<{ role: string }>).filter((message) => message.role === "assistant").length;
      const attempt = (session.attempts.get(turn) ?? 0) + 1;
      session.attempts.set(turn, attempt);
      return typeof session.script === "function" ? session.script(turn, attempt, recorded) : session.script[turn];
    }
    return typeof script === "function" ? script(index, recorded) : script[index];
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      body = {};
    }
    const recorded: RecordedRequest = { headers: req.headers, body, url: req.url ?? "" };
    requests.push(recorded);
    // As the API does: each answer names its request, for support to find it.
    res.setHeader("request-id", `req_fake_${requests.length}`);
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(payload));
    if (wire.kind === "anthropic") {
      const authorized = req.headers["x-api-key"] === MODEL_KEY || req.headers.authorization === `Bearer ${MODEL_KEY}`;
      if (!authorized) return json(401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } });
      if (req.url?.split("?")[0] !== "/v1/messages") return json(404, { type: "error", error: { type: "not_found_error", message: req.url } });
    }
    const route = wire.kind === "anthropic" ? { model: body.model as string, stream: body.stream === true } : platformRoute(wire, req.url ?? "");
    if (!route) return json(404, { type: "error", error: { type: "not_found_error", message: `not a ${wire.kind} model path: ${req.url}` } });
    if (wire.kind !== "anthropic") {
      recorded.refused = await refusal(wire, req, Buffer.concat(chunks));
      // Each platform's own error shape: Bedrock's a bare message with its type in a header, Vertex AI's Google's error object.
      if (recorded.refused && wire.kind === "bedrock") return json(403, { message: recorded.refused }, { "x-amzn-errortype": "InvalidSignatureException", "x-amzn-requestid": "fake-bedrock-request" });
      if (recorded.refused) return json(401, { error: { code: 401, message: recorded.refused, status: "UNAUTHENTICATED" } });
    }
    const index = served++;
    const turn = turnFor(recorded, index);
    if (!turn) return json(500, { type: "error", error: { type: "api_error", message: `the script has no turn for request ${index + 1}` } });
    if (turn.delayMs) await new Promise((resolve) => setTimeout(resolve, turn.delayMs));
    if ("error" in turn) {
      const headers: Record<string, string> = turn.retryAfter === undefined ? { "retry-after-ms": "10" } : { "retry-after": turn.retryAfter };
      // Bedrock answers errors as a bare message, with its type in a header.
      if (wire.kind === "bedrock") return json(turn.error.status, { message: turn.error.message }, { ...headers, "x-amzn-errortype": turn.error.type });
      return json(turn.error.status, { type: "error", error: { type: turn.error.type, message: turn.error.message } }, headers);
    }

    // Cache accounting: the prefix up to each breakpoint is written once and read back later.
    const prefix = JSON.stringify(stripCacheControl([body.system, body.tools]));
    const whole = prefix + (body.messages as unknown[]).map((message) => JSON.stringify(stripCacheControl(message))).join("");
    let read: number;
    if (options.cache === "previous-request") {
      const key = firstUserText(body);
      const last = previous.get(key);
      read = last && whole.startsWith(last.whole) ? last.whole.length : last?.prefix === prefix ? prefix.length : 0;
      previous.set(key, { prefix, whole });
    } else {
      read = Math.max(0, ...[...cached].filter((entry) => whole.startsWith(entry)).map((entry) => entry.length));
      cached.add(prefix);
      cached.add(whole);
    }
    recorded.usage = { cacheRead: tokens(whole.slice(0, read)), cacheWrite: tokens(whole.slice(read)) };
    const content = turn.content.map((block, i) => (block.type === "tool_use" ? { id: block.id ?? `toolu_${index}_${i}`, ...block } : block));
    const hasTools = content.some((block) => block.type === "tool_use");
    const message = {
      id: `msg_${index}`,
      type: "message",
      role: "assistant",
      model: route.model,
      content,
      stop_reason: turn.stop_reason ?? (hasTools ? "tool_use" : "end_turn"),
      stop_sequence: null,
      usage: {
        // With a breakpoint at the end, every input token is either read from or written to the cache.
        input_tokens: 0,
        cache_read_input_tokens: recorded.usage.cacheRead,
        cache_creation_input_tokens: recorded.usage.cacheWrite,
        output_tokens: tokens(JSON.stringify(content)),
      },
    };
    if (route.stream) return wire.kind === "bedrock" ? eventStream(res, message, turn.truncateInputAt) : stream(res, message, turn.truncateInputAt);
    json(200, message);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    session(marker, sessionScript) {
      sessions.set(marker, { script: sessionScript, requests: [], attempts: new Map() });
    },
    sessionRequests: (marker) => sessions.get(marker)?.requests ?? [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Message = { content: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown }>; stop_reason: string; usage: { output_tokens: number } & Record<string, number> };

/** The message as the API streams it: message_start, each block's start, deltas and stop, message_delta, message_stop. */
function streamEvents(message: Message, truncateInputAt?: number): Array<[string, unknown]> {
  const events: Array<[string, unknown]> = [];
  const send = (event: string, data: unknown) => events.push([event, data]);
  send("message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } } });
  const lastTool = message.content.map((block) => block.type).lastIndexOf("tool_use");
  message.content.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } });
      const text = block.text ?? "";
      for (let at = 0; at < text.length || at === 0; at += 40) send("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: text.slice(at, at + 40) } });
    } else {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      let json = JSON.stringify(block.input ?? {});
      if (index === lastTool && truncateInputAt !== undefined) json = json.slice(0, truncateInputAt);
      for (let at = 0; at < json.length; at += 25) send("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: json.slice(at, at + 25) } });
    }
    send("content_block_stop", { type: "content_block_stop", index });
  });
  send("message_delta", { type: "message_delta", delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: message.usage.output_tokens } });
  send("message_stop", { type: "message_stop" });
  return events;
}

/** Server-sent events, as the Claude API and Vertex AI stream. */
function stream(res: ServerResponse, message: Message, truncateInputAt?: number): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  for (const [event, data] of streamEvents(message, truncateInputAt)) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

const utf8 = { to: (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8"), from: (text: string) => new Uint8Array(Buffer.from(text, "utf8")) };
const codec = new EventStreamCodec(utf8.to, utf8.from);

/** Bedrock's InvokeModelWithResponseStream: AWS event-stream frames, each a `chunk` whose bytes are one Messages event's JSON, in base64. */
function eventStream(res: ServerResponse, message: Message, truncateInputAt?: number): void {
  res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-bedrock-content-type": "application/json" });
  const header = (value: string) => ({ type: "string" as const, value });
  for (const [, data] of streamEvents(message, truncateInputAt)) {
    // `p` is the padding Bedrock adds to each chunk, so that sizes do not tell the content.
    const payload = { bytes: Buffer.from(JSON.stringify(data)).toString("base64"), p: "abcdefghijkl" };
    res.write(codec.encode({ headers: { ":event-type": header("chunk"), ":content-type": header("application/json"), ":message-type": header("event") }, body: utf8.from(JSON.stringify(payload)) }));
  }
  res.end();
}

/** The model and whether to stream, from a platform's path; undefined for a path that is not one of its model calls. */
function platformRoute(wire: Exclude<FakeWire, { kind: "anthropic" }>, url: string): { model: string; stream: boolean } | undefined {
  const path = url.split("?")[0]!;
  if (wire.kind === "bedrock") {
    const match = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(path);
    return match ? { model: decodeURIComponent(match[1]!), stream: match[2] === "invoke-with-response-stream" } : undefined;
  }
  const match = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(path);
  if (!match || match[1] !== wire.project || match[2] !== wire.region) return undefined;
  return { model: decodeURIComponent(match[3]!), stream: match[4] === "streamRawPredict" };
}

/**
 * Why the platform would refuse the request's credentials, or undefined. Bedrock: the SigV4
 * signature is computed again here from the expected keys and must match the one sent, so a
 * request signed with other keys (or not at all) is refused. Vertex AI: the bearer token.
 */
async function refusal(wire: Exclude<FakeWire, { kind: "anthropic" }>, req: IncomingMessage, body: Buffer): Promise<string | undefined> {
  const authorization = req.headers.authorization ?? "";
  if (wire.kind === "vertex" && wire.serviceAccount) return jwtRefusal(authorization, wire.serviceAccount);
  if (wire.kind === "vertex") return authorization === `Bearer ${wire.accessToken}` ? undefined : `expected the bearer token, got ${authorization ? "another authorization" : "none"}`;
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(authorization);
  if (!match) return `not a SigV4 signature for bedrock: ${authorization.slice(0, 60)}`;
  const [, keyId, , region, signedHeaders, signature] = match;
  if (keyId !== wire.accessKeyId) return `signed with another access key id (${keyId})`;
  if (region !== wire.region) return `signed for region ${region}, not ${wire.region}`;
  if ((req.headers["x-amz-security-token"] ?? undefined) !== wire.sessionToken) return "the session token differs";
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers["x-amz-date"] ?? ""));
  if (!date) return "no x-amz-date";
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const headers = Object.fromEntries(signedHeaders!.split(";").map((name) => [name, String(req.headers[name] ?? "")]));
  const request = new HttpRequest({
    method: req.method ?? "POST",
    protocol: "http:",
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: body.toString("utf8"),
  });
  const signer = new SignatureV4({
    service: "bedrock",
    region: wire.region,
    credentials: { accessKeyId: wire.accessKeyId, secretAccessKey: wire.secretAccessKey, ...(wire.sessionToken ? { sessionToken: wire.sessionToken } : {}) },
    sha256: Sha256,
  });
  const signingDate = new Date(Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4]), Number(date[5]), Number(date[6])));
  const expected = await signer.sign(request, { signingDate });
  const expectedSignature = /Signature=([0-9a-f]+)/.exec(String(expected.headers.authorization))?.[1];
  return expectedSignature === signature ? undefined : "the signature does not match the expected secret key";
}

/** Why a service account's self-signed JWT is refused, or undefined: signed with its key, issued by it, not expired. */
function jwtRefusal(authorization: string, account: { email: string; publicKey: string }): string | undefined {
  const [header, payload, signature] = authorization.replace(/^Bearer /, "").split(".");
  if (!header || !payload || !signature) return "expected a service account's JWT";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { iss?: string; exp?: number };
  if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), account.publicKey, Buffer.from(signature, "base64url"))) return "the JWT is not signed by the service account's key";
  if (claims.iss !== account.email) return `the JWT was issued by ${claims.iss}`;
  if (!claims.exp || claims.exp * 1000 < Date.now()) return "the JWT has expired";
  return undefined;
}
