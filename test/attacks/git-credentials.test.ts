// Where a run's GitHub token could be found while the server checks out and pushes with native
// git: in a process's command line (/proc/<pid>/cmdline is readable by every process on the
// machine), in the working tree's .git (the agent's commands can read it), or in any file the
// server keeps (its data directory, the repository cache among it). A watcher reads every
// command line on the machine while a run checks out, commits and pushes, and the run's own
// command looks through its .git; the token, bare or as a Basic credential, must be in neither.
// First, the watcher is shown to catch a token where a naive implementation puts it: in the URL.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commentEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/creds";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(41, "acme");
  await world.github.addRepository(REPO, 41, {
    "src/app.js": "export const a = 1;\n",
    ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`src/lib/file-${i}.js`, `export const v${i} = ${i};\n`])),
    ".claude/routines.yml": routinesYml({
      fix: { prompt: "E2E-TOKEN-WATCH: change the code as asked.", triggers: [{ command: { issues: true } }] },
      proxy: { prompt: "E2E-TOKEN-PROXY: change the code as asked.", triggers: [{ command: { issues: true } }] },
    }),
  });
  world.github.permissions.set(`${REPO}:octocat`, "write");
  server = await world.startServer();
}, 120_000);

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** Reads every process's command line, again and again, until stopped; returns all it saw. */
function watchCommandLines(): { stop(): Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const pids = (await readdir("/proc").catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
      await Promise.all(
        pids.map(async (pid) => {
          const line = await readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "");
          if (line) seen.add(line.replaceAll("\0", " "));
        }),
      );
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

/** The forms a token takes on the wire: itself, and inside a Basic credential. */
const forms = (token: string) => [token, Buffer.from(`x-access-token:${token}`).toString("base64")];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe("the run's token and native git", () => {
  it("is caught by the watcher when it is in a command line, as a token in the URL would put it", async () => {
    const token = `ghs_${Math.random().toString(36).slice(2)}naive`;
    // A remote that takes its time to answer, as a large repository's does.
    const slow = createServer((_req, res) => setTimeout(() => res.writeHead(404).end(), 1500));
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const watcher = watchCommandLines();
    try {
      // A naive fetch, the token in the URL: git's remote helper shows it in its command line.
      const url = `http://x-access-token:${token}@127.0.0.1:${(slow.address() as AddressInfo).port}/acme/creds.git`;
      await promisify(execFile)("git", ["ls-remote", url], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } }).catch(() => undefined);
    } finally {
      await new Promise((resolve) => slow.close(resolve));
    }
    const lines = await watcher.stop();
    expect(lines.some((line) => line.includes(token))).toBe(true);
  });

  it("is in no command line, in no file of the working tree's .git or of the repository cache, through a checkout, a commit and a push", async () => {
    const { github, model } = world;
    const tokensBefore = new Set(github.tokens.keys());
    model.session("E2E-TOKEN-WATCH", [
      // What the agent's commands can find in the repository it was given.
      call("shell", { command: "git config --list --show-origin; cat .git/FETCH_HEAD .git/packed-refs 2>/dev/null; grep -rIl -e x-access-token -e Authorization -e ghs_ .git; echo done" }),
      call("edit_file", { path: "src/app.js", old_text: "a = 1;", new_text: "a = 2;" }),
      call("open_pull_request", { title: "Raise a", body: "a is now 2." }),
      call("shell", { command: "find .git -type f -newer src/app.js -print0 | xargs -0 grep -lI -e x-access-token -e Authorization -e ghs_; echo done" }),
      outcome("Opened a pull request."),
    ]);
    const watcher = watchCommandLines();
    let lines: string[];
    try {
      expect((await server.deliver("issue_comment", commentEvent(github, REPO, 1, "/routine run fix", { onPullRequest: false }))).status).toBeLessThan(300);
      await eventually(() => github.find("POST", `/repos/${REPO}/pulls`).find((r) => r.status === 201), { what: "the pull request", timeoutMs: 90_000 });
      await eventually(() => model.sessionRequests("E2E-TOKEN-WATCH").length >= 5 || undefined, { what: "the session's end", timeoutMs: 60_000 });
    } finally {
      lines = await watcher.stop();
    }
    const tokens = [...github.tokens.keys()].filter((token) => !tokensBefore.has(token));
    expect(tokens.length).toBeGreaterThan(0);
    // The watcher saw git at work: the server's fetch went through a child process.
    expect(lines.some((line) => /^git .*fetch/.test(line) || line.includes("remote-http"))).toBe(true);
    for (const token of tokens) {
      for (const form of forms(token)) {
        expect(lines.filter((line) => line.includes(form))).toEqual([]);
        const seenByModel = model.sessionRequests("E2E-TOKEN-WATCH").map((request) => JSON.stringify(request.body.messages)).join("\n");
        expect(seenByModel).not.toContain(form);
      }
    }
    // The agent's commands found nothing that looks like a credential in .git.
    const results = model
      .sessionRequests("E2E-TOKEN-WATCH")
      .at(-1)!
      .body.messages.flatMap((message: { content: unknown }) => (Array.isArray(message.content) ? message.content : []))
      .filter((block: { type: string }) => block.type === "tool_result")
      .map((block: { content: unknown }) => JSON.stringify(block.content));
    expect(results[0]).toContain("remote.origin.url");
    expect(results[0]).not.toMatch(/x-access-token|Authorization|ghs_/);
    expect(results.at(-1)).not.toMatch(/\.git\//);
    // Nothing of the repository cache holds it (the run store keeps run tokens on purpose, to revoke them after a crash).
    const cache = join(server.cwd, "data", "git");
    expect((await filesUnder(cache)).length).toBeGreaterThan(0);
    for (const file of await filesUnder(cache)) {
      const text = await readFile(file, "latin1").catch(() => "");
      for (const token of tokens) for (const form of forms(token)) expect(text.includes(form), `${file} holds the token`).toBe(false);
    }
  });

  it("is not sent where the working tree's git config points: pushes go to the repository's own URL", async () => {
    const { github, model } = world;
    // The agent's listener: whatever reaches it, with the headers it came with.
    const received: Array<{ url: string; authorization: string | undefined }> = [];
    const listener = createServer((req, res) => {
      received.push({ url: req.url ?? "", authorization: req.headers.authorization });
      // Asking for credentials, as GitHub does, so a client that has them sends them.
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const proxy = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    try {
      const tokensBefore = new Set(github.tokens.keys());
      model.session("E2E-TOKEN-PROXY", [
        // Settings in .git/config that git clients read for the remote: a proxy for every request, a rewritten URL.
        // The sandbox keeps .git/config from the shell's commands; the file tools work in the server.
        call("shell", { command: `git config http.corsProxy ${proxy}; git config http.proxy ${proxy}; git config url.${proxy}/.insteadOf ${world.github.url}/; echo tried` }),
        call("edit_file", { path: ".git/config", old_text: "[core]", new_text: `[http]\n\tcorsProxy = ${proxy}\n\tproxy = ${proxy}\n[url "${proxy}/"]\n\tinsteadOf = ${world.github.url}/\n[core]` }),
        call("edit_file", { path: "src/app.js", old_text: "a = 1;", new_text: "a = 3;" }),
        call("push_branch", { branch: "claude/proxied", commit_message: "Raise a" }),
        outcome("Pushed."),
      ]);
      expect((await server.deliver("issue_comment", commentEvent(github, REPO, 2, "/routine run proxy", { onPullRequest: false }))).status).toBeLessThan(300);
      await eventually(() => model.sessionRequests("E2E-TOKEN-PROXY").length >= 5 || undefined, { what: "the session's end", timeoutMs: 90_000 });
      const tokens = [...github.tokens.keys()].filter((token) => !tokensBefore.has(token));
      expect(tokens.length).toBeGreaterThan(0);
      // The file tools wrote the settings (the shell could not).
      expect(JSON.stringify(model.sessionRequests("E2E-TOKEN-PROXY")[2]!.body.messages.at(-1))).toContain("Edited .git/config");
      const leaked = received.filter(({ url, authorization }) => tokens.some((token) => forms(token).some((form) => `${url} ${authorization ?? ""}`.includes(form))));
      expect(leaked).toEqual([]);
      expect(received).toEqual([]);
      // The push went where it belongs.
      expect(await github.file(REPO, "claude/proxied", "src/app.js")).toContain("a = 3;");
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});
