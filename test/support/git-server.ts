// Real git repositories served over smart HTTP on loopback: `git http-backend` behind a tiny Node
// server, with HTTP basic auth that accepts one token, the way GitHub takes installation tokens.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { gitHttpBackend } from "./git-http-backend.js";

export const run = async (cwd: string, ...args: string[]) => (await promisify(execFile)("git", args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } })).stdout.trim();

export interface GitServer {
  url: string;
  /** Where the served bare repositories live, as `<root>/<owner>/<repo>.git`. */
  root: string;
  /** Every request, with the bytes the server answered. */
  requests: Array<{ method: string; path: string; authorized: boolean; bytes: number }>;
  close(): Promise<void>;
}

export async function startGitServer(token: string): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), "routines-git-served-"));
  const requests: GitServer["requests"] = [];
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
  const server = createServer((req, res) => {
    const [path = "/", query = ""] = (req.url ?? "/").split("?");
    const authorized = req.headers.authorization === expected;
    const entry = { method: req.method ?? "GET", path, authorized, bytes: 0 };
    requests.push(entry);
    if (!authorized) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("authentication required");
      return;
    }
    gitHttpBackend(req, res, root, { onBytes: (bytes) => (entry.bytes += bytes) });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    root,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A served repository with a few commits on `main` and a feature branch, made with native git. */
export async function createServedRepository(server: GitServer, owner: string, repo: string, files: Record<string, string>): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), "routines-git-work-"));
  await run(work, "init", "-q", "-b", "main");
  await run(work, "config", "user.email", "dev@example.com");
  await run(work, "config", "user.name", "Dev");
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), content);
  }
  await run(work, "add", "-A");
  await run(work, "commit", "-q", "-m", "Initial commit");
  const bare = join(server.root, owner, `${repo}.git`);
  await mkdir(dirname(bare), { recursive: true });
  await run(dirname(bare), "clone", "-q", "--bare", work, bare);
  await run(bare, "config", "http.receivepack", "true");
  return work;
}
