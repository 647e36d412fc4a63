import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createServerLog, logFormatOf, redactLogLine, type LogFormat } from "../src/server-log.js";
import { createRedactor } from "../src/session/redact.js";

const SECRET = "model-key-0123456789abcdef";
const redact = createRedactor([SECRET]);

function capture(format: LogFormat = "json") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: createServerLog(redact, { level: "debug", format, destination }), text: () => lines.join("") };
}

describe("the server's log", () => {
  it("never writes a secret, however a line carries it", () => {
    const { log, text } = capture();
    log.info({ err: new Error(`failed with ${SECRET}`) }, `value ${Buffer.from(SECRET).toString("base64")}`);
    log.child({ name: "probot" }).warn({ nested: { list: [SECRET] } }, "nested");
    expect(text()).not.toContain(SECRET);
    expect(text()).not.toContain(Buffer.from(SECRET).toString("base64").slice(2, 20));
    expect(text()).toContain("[REDACTED]");
  });

  it("never writes credentials of HTTP requests: authorization, cookies, OAuth's code and state, tokens in URLs", () => {
    const { log, text } = capture();
    const req = {
      method: "GET",
      url: "/dashboard/auth/callback?code=the-code&state=the-state&page=2",
      headers: { authorization: "Bearer the-bearer", cookie: "routines_session=the-cookie", "x-api-key": "the-api-key", "idempotency-key": "the-idempotency-key", accept: "*/*" },
    };
    log.info({ req, res: { statusCode: 302, headers: { "set-cookie": ["routines_session=the-new-cookie; Path=/dashboard"] } } }, `GET ${req.url} 302`);
    log.info({ headers: req.headers }, "headers outside a request");
    for (const value of ["the-code", "the-state", "the-bearer", "the-cookie", "the-api-key", "the-idempotency-key", "the-new-cookie"]) expect(text()).not.toContain(value);
    expect(text()).toContain("page=2");
    expect(text()).toContain('"accept":"*/*"');
  });

  it("keeps lines as JSON", () => {
    const line = JSON.stringify({ msg: `GET /x?token=abc&access_token=def 200`, headers: { Cookie: "a=b", "set-cookie": ["c=d", "e=f"] } });
    expect(JSON.parse(redactLogLine(line, redact))).toEqual({ msg: "GET /x?token=[REDACTED]&access_token=[REDACTED] 200", headers: { Cookie: "[REDACTED]", "set-cookie": "[REDACTED]" } });
  });

  it("names each JSON line once, by its innermost logger, as Probot's loggers nest", () => {
    const { log, text } = capture();
    log.child({ name: "probot" }).child({ name: "github" }).info({ repository: { name: "app" } }, "called");
    log.info("plain");
    const [nested, plain] = text().trimEnd().split("\n");
    expect(nested!.match(/"name":/g)).toHaveLength(2);
    expect(JSON.parse(nested!)).toMatchObject({ name: "github", repository: { name: "app" }, msg: "called" });
    expect(JSON.parse(plain!)).toMatchObject({ name: "routines", msg: "plain" });
  });

  it("writes pretty lines for people, made from the redacted line, and JSON lines otherwise", () => {
    const pretty = capture("pretty");
    pretty.log.child({ name: "probot" }).info(`started with ${SECRET}`);
    expect(pretty.text()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(probot\/\d+\): started with \[REDACTED\]\n$/);
    const json = capture();
    json.log.info("started");
    expect(JSON.parse(json.text())).toMatchObject({ level: 30, msg: "started" });
  });

  it("takes its format from LOG_FORMAT, or pretty for a terminal and JSON otherwise", () => {
    expect(logFormatOf({}, true)).toBe("pretty");
    expect(logFormatOf({}, false)).toBe("json");
    expect(logFormatOf({ LOG_FORMAT: "JSON" }, true)).toBe("json");
    expect(logFormatOf({ LOG_FORMAT: "pretty" }, false)).toBe("pretty");
    expect(() => logFormatOf({ LOG_FORMAT: "xml" }, false)).toThrow('LOG_FORMAT="xml" is not json or pretty');
  });
});
