// Secrets never leave the harness: every text bound for GitHub, the model, a transcript or a log
// passes through a redactor that knows the secrets, and the forms a command can easily turn them
// into (base64 at any alignment, hex, URL-encoding, reversed, JSON-escaped), wherever whitespace
// breaks them across lines. Encodings are caught as a best effort: a determined command can always
// invent one more, which is why values reach only the runs they are granted to.

export type Redactor = <T>(value: T) => T;

export const REDACTED = "[REDACTED]";
/** Shorter values (and shorter forms of them) are too likely to be ordinary text. */
export const MIN_SECRET_LENGTH = 8;

/** Tokens recognised by their documented prefixes, whoever minted them: GitHub's (installation, user, OAuth, refresh, personal) and Anthropic's keys. */
const KNOWN_TOKENS = /\b(?:gh[opsur]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b|\bsk-ant-[A-Za-z0-9_-]{20,}/g;

/** ASCII whitespace: where `base64`, `xxd`, `od` and line wrapping break their output. */
const WHITESPACE = /[\t\n\v\f\r ]/g;
const isWhitespace = (code: number) => code === 32 || (code >= 9 && code <= 13);

/**
 * The base64 characters that encode `bytes` wherever they sit in a longer input: at each of the
 * three alignments, only the characters whose six bits all come from `bytes`.
 */
function base64Cores(bytes: Buffer): string[] {
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64").replace(/=+$/, "");
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + bytes.length) * 8) / 6);
    return encoded.slice(first, last);
  });
}

/** The forms of a secret to look for, without whitespace, longest first. */
export function secretForms(secret: string): string[] {
  return formsOf(secret).all;
}

function formsOf(secret: string): { all: string[]; base64: string[] } {
  const bytes = Buffer.from(secret, "utf8");
  const hex = bytes.toString("hex");
  const cores = base64Cores(bytes);
  const base64 = [...cores, ...cores.map((core) => core.replace(/\+/g, "-").replace(/\//g, "_"))];
  const forms = [
    secret,
    [...secret].reverse().join(""),
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    encodeURIComponent(secret).replace(/%20/g, "+"),
    hex,
    hex.toUpperCase(),
    ...base64,
  ].map((form) => form.replace(WHITESPACE, ""));
  const usable = (list: string[]) => [...new Set(list)].filter((form) => form.length >= MIN_SECRET_LENGTH);
  return { all: usable(forms).sort((a, b) => b.length - a.length), base64: usable(base64) };
}

/** Characters that may carry a few more bits of a base64-encoded secret around its core. */
const BASE64_CHAR = /[A-Za-z0-9+/_-]/;

/** A base64 occurrence widened over the characters that share bits with it: one before, one and the padding after. */
function widenBase64(text: string, from: number, to: number): [number, number] {
  const start = from > 0 && BASE64_CHAR.test(text[from - 1]!) ? from - 1 : from;
  let end = to < text.length && BASE64_CHAR.test(text[to]!) ? to + 1 : to;
  while (end < text.length && text[end] === "=") end++;
  return [start, end];
}

/** Where truncate() (define-tool.ts) cut long output: a secret may have been cut in two there. */
const CUT = /\n\n\[… \d+ characters cut …\]\n\n/g;
/** The shortest piece of a cut secret worth hiding. */
const MIN_PIECE = 4;

/** The pieces of secrets on either side of each cut: a form's beginning just before it, a form's end just after it. */
function cutPieces(text: string, forms: readonly string[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const cut of text.matchAll(CUT)) {
    const before = cut.index;
    const after = cut.index + cut[0].length;
    let head = 0;
    let tail = 0;
    for (const form of forms) {
      for (let length = form.length - 1; length >= Math.max(MIN_PIECE, head + 1); length--) {
        if (text.startsWith(form.slice(0, length), before - length)) head = length;
      }
      for (let length = form.length - 1; length >= Math.max(MIN_PIECE, tail + 1); length--) {
        if (text.startsWith(form.slice(-length), after)) tail = length;
      }
    }
    if (head > 0) spans.push([before - head, before]);
    if (tail > 0) spans.push([after, after + tail]);
  }
  return spans;
}

/** `text` with every occurrence of the forms replaced, whitespace inside an occurrence included. */
function redactText(text: string, { forms, base64 }: Forms): string {
  if (forms.length === 0) return text.replace(KNOWN_TOKENS, REDACTED);
  // The text without whitespace, and where each of its characters was in the original.
  const positions: number[] = [];
  for (let i = 0; i < text.length; i++) if (!isWhitespace(text.charCodeAt(i))) positions.push(i);
  const compact = positions.length === text.length ? text : text.replace(WHITESPACE, "");
  const spans: Array<[number, number]> = [];
  for (const form of forms) {
    const widen = base64.has(form);
    for (let at = compact.indexOf(form); at !== -1; at = compact.indexOf(form, at + 1)) {
      const span: [number, number] = [positions[at]!, positions[at + form.length - 1]! + 1];
      spans.push(widen ? widenBase64(text, ...span) : span);
    }
  }
  if (text.includes(" characters cut …]")) spans.push(...cutPieces(text, forms));
  if (spans.length === 0) return text.replace(KNOWN_TOKENS, REDACTED);
  // Overlapping occurrences become one.
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const parts: string[] = [];
  let kept = 0;
  let [from, to] = spans[0]!;
  for (const [start, end] of spans.slice(1)) {
    if (start < to) {
      to = Math.max(to, end);
      continue;
    }
    parts.push(text.slice(kept, from), REDACTED);
    kept = to;
    [from, to] = [start, end];
  }
  parts.push(text.slice(kept, from), REDACTED, text.slice(to));
  return parts.join("").replace(KNOWN_TOKENS, REDACTED);
}

interface Forms {
  /** Longest first, so a secret that contains another is replaced whole. */
  forms: readonly string[];
  base64: ReadonlySet<string>;
}

export type SecretSource = Iterable<string | undefined> | (() => Iterable<string | undefined>);

/**
 * A redactor of the given secret values, and of the tokens known by their prefixes. Pass a
 * function when the set grows during the run (a refreshed token): it is read again at each use.
 */
export function createRedactor(...sources: SecretSource[]): Redactor {
  // Forms are worked out once per value, however often the set is read.
  const known = new Map<string, { all: string[]; base64: string[] }>();
  const fixed = sources.every((source) => typeof source !== "function");
  const collect = (): Forms => {
    const values = new Set<string>();
    for (const source of sources) for (const value of typeof source === "function" ? source() : source) if (typeof value === "string" && value.length >= MIN_SECRET_LENGTH) values.add(value);
    const forms = new Set<string>();
    const base64 = new Set<string>();
    for (const value of values) {
      if (!known.has(value)) known.set(value, formsOf(value));
      const { all, base64: encoded } = known.get(value)!;
      for (const form of all) forms.add(form);
      for (const form of encoded) base64.add(form);
    }
    return { forms: [...forms].sort((a, b) => b.length - a.length), base64 };
  };
  const once = fixed ? collect() : undefined;
  const redactWith = (forms: Forms, value: unknown): unknown => {
    if (typeof value === "string") return redactText(value, forms);
    if (Array.isArray(value)) return value.map((inner) => redactWith(forms, inner));
    // Plain objects only: a Buffer or a Date is not text, and keeps its type.
    if (value !== null && typeof value === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactWith(forms, inner)]));
    }
    return value;
  };
  // The values are read once per call, not once per string of the value.
  return <T>(value: T) => redactWith(once ?? collect(), value) as T;
}
