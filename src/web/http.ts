// The little HTTP the web routes need on top of node:http: errors that carry a status, bodies
// read with a size limit, forms, cookies.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Html } from "./html.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The body as text; over `maxBytes` is a 413, whatever Content-Length claims. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const tooLarge = () => new HttpError(413, `the body is larger than ${maxBytes} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const forms = new WeakMap<IncomingMessage, Promise<URLSearchParams>>();

/** An HTML form post (application/x-www-form-urlencoded), read once however often it is asked for. */
export function readForm(req: IncomingMessage, maxBytes = 64 * 1024): Promise<URLSearchParams> {
  let form = forms.get(req);
  if (!form) {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    form =
      type === "application/x-www-form-urlencoded"
        ? readBody(req, maxBytes).then((body) => new URLSearchParams(body))
        : Promise.reject(new HttpError(415, "Send the form as application/x-www-form-urlencoded."));
    forms.set(req, form);
  }
  return form;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    // The first of two cookies with one name is the most specific (RFC 6265, 5.4).
    if (name && !cookies.has(name)) {
      try {
        cookies.set(name, decodeURIComponent(part.slice(at + 1).trim()));
      } catch {
        // A cookie that is not valid percent-encoding is not one of ours.
      }
    }
  }
  return cookies;
}

export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
  sameSite: "Lax" | "Strict";
}

export function serializeCookie(name: string, value: string, { path, maxAge, secure, sameSite }: CookieOptions): string {
  return [`${name}=${encodeURIComponent(value)}`, `Path=${path}`, `Max-Age=${maxAge}`, "HttpOnly", `SameSite=${sameSite}`, ...(secure ? ["Secure"] : [])].join("; ");
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  // Only the dashboard's own script and style; no inline script can run.
  "content-security-policy": "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' https:",
};

export function sendHtml(res: ServerResponse, status: number, page: Html, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, ...headers }).end(page.text);
}

/** 303: the browser follows with a GET, so reloading the next page does not post the form again. */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { location, "cache-control": "no-store", ...headers }).end();
}
