// The built server as a user starts it: `node dist/server.js` in a working directory of its own,
// configured by a `.env` file there (and whatever environment the test adds), in a process group
// of its own so that nothing it starts can outlive the test.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SERVER = join(ROOT, "dist", "server.js");
export const CLI = join(ROOT, "dist", "cli.js");

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** A `.env` file's text, as Probot's setup writes it: one KEY=value a line, newlines escaped. */
export const envFile = (values: Record<string, string>) =>
  Object.entries(values)
    .map(([key, value]) => `${key}=${value.replace(/\n/g, "\\n")}`)
    .join("\n");

export interface ServerOptions {
  /** Written to `.env` in the server's working directory. */
  dotenv: Record<string, string>;
  /** Set in the process environment besides PATH. */
  env?: Record<string, string>;
  /** The working directory; a new one when omitted. */
  cwd?: string;
  /** What answers 200 once the server is up; /healthz by default (Probot's setup mode serves /probot instead). */
  readyPath?: string;
  /** What node runs: the built server by default; `[CLI, "worker"]` for a worker process, `[CLI, "server"]` for a web process. */
  args?: string[];
}

export class ServerProcess {
  #child: ChildProcess | undefined;
  #output = "";
  #exited: Promise<number | null> = Promise.resolve(null);
  exitCode: number | null | undefined;
  signal: NodeJS.Signals | null = null;

  private constructor(
    readonly cwd: string,
    readonly port: number,
    private readonly options: ServerOptions,
  ) {}

  static async start(options: ServerOptions): Promise<ServerProcess> {
    const cwd = options.cwd ?? (await mkdtemp(join(tmpdir(), "routines-e2e-server-")));
    const port = Number(options.dotenv.PORT ?? (await freePort()));
    const server = new ServerProcess(cwd, port, { ...options, dotenv: { PORT: String(port), ...options.dotenv } });
    await writeFile(join(cwd, ".env"), envFile(server.options.dotenv));
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Everything the process printed so far. */
  output(): string {
    return this.#output;
  }

  async #spawn(): Promise<void> {
    this.#output = "";
    this.exitCode = undefined;
    const child = spawn(process.execPath, this.options.args ?? [SERVER], {
      cwd: this.cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...this.options.env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    child.stdout!.on("data", (chunk: Buffer) => (this.#output += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (this.#output += chunk.toString("utf8")));
    this.#exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve(code);
      }),
    );
    await this.#healthy();
  }

  async #healthy(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`the server exited with ${this.exitCode} before it was healthy:\n${this.#output}`);
      const answer = await fetch(`${this.url}${this.options.readyPath ?? "/healthz"}`).catch(() => undefined);
      if (answer?.ok) return;
      await sleep(100);
    }
    throw new Error(`the server was not healthy within 30 s:\n${this.#output}`);
  }

  /** Waits for a line matching `pattern` in what the server printed, and returns the match. */
  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const match = await eventually(() => this.#output.match(pattern) ?? undefined, { timeoutMs, what: `server output ${pattern}` });
    return match;
  }

  /** SIGTERM, then waits for the exit; returns the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.#child || this.exitCode !== undefined) return this.exitCode ?? null;
    this.#child.kill("SIGTERM");
    const code = await Promise.race([this.#exited, sleep(timeoutMs).then(() => "timeout" as const)]);
    if (code === "timeout") {
      this.killGroup();
      throw new Error(`the server did not exit within ${timeoutMs} ms of SIGTERM:\n${this.#output}`);
    }
    return code;
  }

  /** `kill -9` of the server process alone, as a crash or the OOM killer would. */
  async crash(): Promise<void> {
    this.#child?.kill("SIGKILL");
    await this.#exited;
  }

  /** Starts the server again in the same directory, with its `.env` as it is now. */
  async restart({ readyPath }: { readyPath?: string } = {}): Promise<void> {
    if (readyPath) this.options.readyPath = readyPath;
    await this.#spawn();
  }

  /** Kills the process group, whatever is left of it: for the end of a test. */
  killGroup(): void {
    if (this.#child?.pid === undefined) return;
    try {
      process.kill(-this.#child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  /** POSTs a webhook delivery signed with the secret, as GitHub does. */
  async deliver(event: string, payload: unknown, { id = `delivery-${++deliveries}`, secret = this.options.dotenv.WEBHOOK_SECRET ?? "" } = {}): Promise<Response> {
    const body = JSON.stringify(payload);
    return fetch(`${this.url}/api/github/webhooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/e2e",
        "x-github-event": event,
        "x-github-delivery": id,
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
      body,
    });
  }
}

let deliveries = 0;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined or false. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, { timeoutMs = 60_000, intervalMs = 100, what = "a condition" } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
}

/** How many processes on the machine, other than this one, have `text` in their command line. */
export async function processesWith(text: string): Promise<number> {
  let found = 0;
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    if ((await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").includes(text)) found += 1;
  }
  return found;
}
