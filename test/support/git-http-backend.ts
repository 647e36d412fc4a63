// `git http-backend` behind a Node request: the CGI gets the request, its answer goes back with
// the status and headers it printed. What GitHub's git smart HTTP is, over real bare repositories.
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface BackendAnswer {
  /** Called once the CGI printed its headers. */
  onStatus?(status: number): void;
  /** Called with each chunk of the body sent back. */
  onBytes?(bytes: number): void;
}

/** Serves the request from the bare repositories under `root` (as /<owner>/<repo>.git/…). */
export function gitHttpBackend(req: IncomingMessage, res: ServerResponse, root: string, answer: BackendAnswer = {}): void {
  const [path = "/", query = ""] = (req.url ?? "/").split("?");
  const cgi = spawn("git", ["http-backend"], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: path,
      QUERY_STRING: query,
      REQUEST_METHOD: req.method ?? "GET",
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
      // Pushes need a user; the servers check credentials themselves before this.
      REMOTE_USER: "x-access-token",
      REMOTE_ADDR: "127.0.0.1",
    },
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  cgi.stdout.on("data", (chunk: Buffer) => {
    if (started) {
      answer.onBytes?.(chunk.length);
      return void res.write(chunk);
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    started = true;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const [name = "", ...value] = line.split(":");
      if (name.toLowerCase() === "status") status = Number.parseInt(value.join(":").trim(), 10);
      else headers[name] = value.join(":").trim();
    }
    answer.onStatus?.(status);
    res.writeHead(status, headers);
    answer.onBytes?.(head.length - end - 4);
    res.write(head.subarray(end + 4));
  });
  cgi.on("close", () => res.end());
}
