import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { truncate } from "../../src/session/define-tool.js";
import { createRedactor, REDACTED, secretForms } from "../../src/session/redact.js";

const SECRET = "vault-0123456789/+=&?abcdef";
const redact = createRedactor([SECRET]);
const shell = (command: string) => execFileSync("bash", ["--norc", "--noprofile", "-c", command], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", S: SECRET } }).toString();

describe("the redactor", () => {
  it("replaces the secret as it is, and in JSON, inside strings of objects and lists", () => {
    expect(redact(`token: ${SECRET}.`)).toBe(`token: ${REDACTED}.`);
    expect(redact({ list: [SECRET, 3, { deeper: `x${SECRET}x` }], at: new Date(0) })).toEqual({ list: [REDACTED, 3, { deeper: `x${REDACTED}x` }], at: new Date(0) });
    expect(redact(JSON.stringify({ text: `a\n"${SECRET}"` }))).not.toContain(SECRET);
  });

  it("leaves other values as they are: numbers, buffers, text without secrets", () => {
    const buffer = Buffer.from("bytes");
    expect(redact(buffer)).toBe(buffer);
    expect(redact(42)).toBe(42);
    expect(redact("nothing to see")).toBe("nothing to see");
  });

  it.each([
    ["base64", `printf %s "$S" | base64 -w0`],
    ["base64 after one byte", `printf 'x%s' "$S" | base64 -w0`],
    ["base64 after two bytes", `printf 'xy%s' "$S" | base64 -w0`],
    ["base64 wrapped at 76 columns, after a line", `printf 'a long preamble of text, so the secret crosses the wrap %s' "$S" | base64`],
    ["URL-safe base64", `printf %s "$S" | base64 -w0 | tr '+/' '-_'`],
    ["hex", `printf %s "$S" | od -An -tx1`],
    ["hex as xxd prints it", `printf %s "$S" | xxd -p -c 8`],
    ["upper-case hex", `printf %s "$S" | xxd -p -u`],
    ["reversed", `printf %s "$S" | rev`],
    ["URL-encoded", `node -e 'process.stdout.write(encodeURIComponent(process.env.S))'`],
    ["URL-encoded in lower case", `node -e 'process.stdout.write(encodeURIComponent(process.env.S).toLowerCase())'`],
    ["spread over lines", `printf %s "$S" | fold -w 5`],
  ])("catches the secret as %s", (_, command) => {
    const output = shell(command);
    const redacted = redact(`before ${output} after`);
    expect(redacted).toContain(REDACTED);
    // What is left is not enough to read the secret back: no stretch of it, in any of its forms.
    for (const form of secretForms(SECRET)) expect(redacted.replace(/\s/g, "")).not.toContain(form.slice(0, 8));
  });

  it("widens a base64 occurrence over the characters that share its bits", () => {
    expect(redact(`[${Buffer.from(SECRET).toString("base64")}]`)).toBe(`[${REDACTED}]`);
    // "xy" fills the first two characters alone; the third holds bits of both.
    expect(redact(`[${Buffer.from(`xy${SECRET}`).toString("base64")}]`)).toBe(`[eH${REDACTED}]`);
  });

  it("hides the pieces of a secret that truncated output cut in two", () => {
    // truncate() keeps the first and the last (limit - 100) / 2 characters.
    const keep = 950;
    const head = truncate(`${"a".repeat(keep - 10)}${SECRET}${"b".repeat(5_000)}`, 2_000);
    expect(head.includes(`a${SECRET.slice(0, 10)}\n\n[…`)).toBe(true);
    expect(redact(head).includes(`a${REDACTED}\n\n[…`)).toBe(true);
    const tail = truncate(`${"a".repeat(5_000)}${SECRET}${"b".repeat(keep - 10)}`, 2_000);
    expect(tail.includes(`…]\n\n${SECRET.slice(-10)}b`)).toBe(true);
    expect(redact(tail).includes(`…]\n\n${REDACTED}b`)).toBe(true);
  });

  it("redacts a secret that contains another whole, and overlapping occurrences once", () => {
    const both = createRedactor(["abcdefgh12", "abcdefgh1234567"]);
    expect(both("<abcdefgh1234567>")).toBe(`<${REDACTED}>`);
    expect(both("abcdefgh12abcdefgh12")).toBe(`${REDACTED}${REDACTED}`);
  });

  it("ignores values too short to tell from ordinary text", () => {
    expect(createRedactor(["short", undefined])("a short text")).toBe("a short text");
  });

  it("recognises GitHub tokens and Anthropic keys by their prefixes, whoever minted them", () => {
    const text = `ghs_${"a".repeat(36)} github_pat_${"b".repeat(40)} sk-ant-api03-${"c".repeat(40)}`;
    expect(createRedactor([])(text)).toBe([REDACTED, REDACTED, REDACTED].join(" "));
  });

  it("reads a growing set again at each use", () => {
    const values = ["first-secret"];
    const growing = createRedactor(["fixed-secret"], () => values);
    expect(growing("first-secret second-secret fixed-secret")).toBe(`${REDACTED} second-secret ${REDACTED}`);
    values.push("second-secret");
    expect(growing("second-secret")).toBe(REDACTED);
  });

  it("keeps up with long text and many secrets", () => {
    const many = createRedactor(Array.from({ length: 40 }, (_, i) => `secret-number-${i}-${"x".repeat(30)}`));
    const text = "ordinary output line\n".repeat(25_000);
    const started = performance.now();
    expect(many(text)).toBe(text);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
