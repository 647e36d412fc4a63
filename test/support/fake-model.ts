// A scripted stand-in for the Anthropic Messages API, over real HTTP on loopback. It plays the
// turns it is given, records every request, and reports cache usage the way the real API does:
// what an earlier request cached at a breakpoint is read back when a later request starts with it.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

type Block = { type: "text"; text: string } | { type: "tool_use"; name: string; input: unknown; id?: string };

export type ScriptedTurn =
  | { content: Block[]; stop_reason?: "end_turn" | "tool_use" | "max_tokens"; delayMs?: number }
  | { error: { status: number; type: string; message: string }; delayMs?: number };

export interface RecordedRequest {
  headers: IncomingMessage["headers"];
  body: any; // the JSON body as sent: tests read the fields they check
}

export interface FakeModel {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const stripCacheControl = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(stripCacheControl);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "cache_control").map(([key, inner]) => [key, stripCacheControl(inner)]));
  }
  return value;
};
const tokens = (text: string) => Math.ceil(text.length / 4);

export async function startFakeModel(script: ScriptedTurn[] | ((index: number, request: RecordedRequest) => ScriptedTurn)): Promise<FakeModel> {
  const requests: RecordedRequest[] = [];
  const cached = new Set<string>();
  let served = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    const recorded = { headers: req.headers, body };
    requests.push(recorded);
    const authorized = req.headers["x-api-key"] === "test-model-key" || req.headers.authorization === "Bearer test-model-key";
    const index = served++;
    const turn = typeof script === "function" ? script(index, recorded) : script[index];
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(payload));
    if (!authorized) return json(401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } });
    if (req.url?.split("?")[0] !== "/v1/messages") return json(404, { type: "error", error: { type: "not_found_error", message: req.url } });
    if (!turn) return json(500, { type: "error", error: { type: "api_error", message: `the script has no turn ${index + 1}` } });
    if (turn.delayMs) await new Promise((resolve) => setTimeout(resolve, turn.delayMs));
    if ("error" in turn) return json(turn.error.status, { type: "error", error: { type: turn.error.type, message: turn.error.message } }, { "retry-after-ms": "10" });

    // Cache accounting: the prefix up to each breakpoint is written once and read back later.
    const prefix = JSON.stringify(stripCacheControl([body.system, body.tools]));
    const whole = prefix + (body.messages as unknown[]).map((message) => JSON.stringify(stripCacheControl(message))).join("");
    const read = Math.max(0, ...[...cached].filter((entry) => whole.startsWith(entry)).map((entry) => entry.length));
    cached.add(prefix);
    cached.add(whole);
    const content = turn.content.map((block, i) => (block.type === "tool_use" ? { id: block.id ?? `toolu_${index}_${i}`, ...block } : block));
    const hasTools = content.some((block) => block.type === "tool_use");
    json(200, {
      id: `msg_${index}`,
      type: "message",
      role: "assistant",
      model: body.model,
      content,
      stop_reason: turn.stop_reason ?? (hasTools ? "tool_use" : "end_turn"),
      stop_sequence: null,
      usage: {
        // With a breakpoint at the end, every input token is either read from or written to the cache.
        input_tokens: 0,
        cache_read_input_tokens: tokens(whole.slice(0, read)),
        cache_creation_input_tokens: tokens(whole.slice(read)),
        output_tokens: tokens(JSON.stringify(content)),
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
