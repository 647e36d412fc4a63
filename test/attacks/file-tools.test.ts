// Attacks on the file tools (grep, glob, view), which run in the server process rather than in the
// sandbox: a routine's command plants symbolic links in its working tree, and the scripted agent
// reads through them. Nothing of the server (its private key, `.env`, data directory) and nothing
// of the host may come back, a link to `/` may not keep a run past its timeout, and a hostile
// regular expression may not stall the server; grep's ripgrep takes no option from a pattern, the
// tree or the server's environment (RIPGREP_CONFIG_PATH). Assertions are on what crossed the wires: the
// model's requests (the tool results it saw), GitHub's comments and check runs, the server's log
// (transcripts are logged at debug level), and /healthz.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateKey } from "../support/github.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, sleep, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/files";
const QUICK = "acme/quick";
const QUICK_TIMEOUT_S = 20;

let world: World;
let server: ServerProcess;
let cwd: string;
// Made at run time, so that no file on the machine holds them unless the server put it there.
const webhookSecret = randomBytes(18).toString("hex");
const vault = `vault-${randomBytes(18).toString("hex")}`;
let sessionSecret: string;
/** An operator's ripgrep configuration, as RIPGREP_CONFIG_PATH names it: the search must not take it. */
let ripgrepConfig: { path: string; ran: string };

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(REPO, 7, {
    "README.md": "# Files\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
  });
  await world.github.addRepository(QUICK, 7, {
    "README.md": "# Quick\n",
    ".claude/routines.yml": routinesYml({
      review: { prompt: "Review this pull request.", timeout: `${QUICK_TIMEOUT_S}s`, triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
    }),
  });
  // The server's working directory as an operator has it: `.env` with the secrets, the App's key
  // as a file beside it, and the data directory (database, dashboard session secret) under it.
  cwd = await mkdtemp(join(tmpdir(), "routines-attack-files-"));
  await writeFile(join(cwd, "app.private-key.pem"), privateKey);
  // Follow links, and run a preprocessor that leaves a mark and shows the server's .env beside each file.
  const rgDir = await mkdtemp(join(tmpdir(), "routines-attack-rg-"));
  ripgrepConfig = { path: join(rgDir, "ripgreprc"), ran: join(rgDir, "pre-ran") };
  await writeFile(join(rgDir, "pre.sh"), `#!/bin/sh\ntouch ${ripgrepConfig.ran}\ncat ${join(cwd, ".env")} "$1"\n`, { mode: 0o755 });
  await writeFile(ripgrepConfig.path, `--follow\n--pre=${join(rgDir, "pre.sh")}\n--no-ignore\n`);
  server = await world.startServer({ cwd, extra: { WEBHOOK_SECRET: webhookSecret, ROUTINES_SECRET_VAULT: vault }, env: { RIPGREP_CONFIG_PATH: ripgrepConfig.path } });
  sessionSecret = (await readFile(join(cwd, "data", "session-secret"), "utf8")).trim();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

let changes = 0;
async function pullRequest(repository: string, marker: string) {
  const branch = `feature/${++changes}`;
  await world.github.commit(repository, branch, { "notes.txt": `change ${changes}\n` });
  const pull = await world.github.openPullRequest(repository, { head: branch, title: `Change ${changes} ${marker}`, user: "alice" });
  await server.deliver("pull_request", await pullRequestEvent(world.github, repository, pull.number, "opened"));
  return { pull, head: await world.github.sha(repository, `refs/heads/${branch}`) };
}

/** Every tool result of a request, as the model saw them. */
const toolResults = (messages: Array<{ role: string; content: unknown }>) =>
  messages.flatMap((message) => (Array.isArray(message.content) ? message.content : [])).filter((block: { type?: string }) => block.type === "tool_result");

/** What of the server must never leave it: key material, `.env` values, the session secret, the host's shadow file. */
async function serverSecrets(): Promise<string[]> {
  const keyLines = privateKey.split("\n").filter((line) => line && !line.startsWith("-----"));
  const shadow = (await readFile("/etc/shadow", "utf8").catch(() => "")).split("\n")[0] ?? "";
  return [...keyLines.slice(1, 4), webhookSecret, vault, sessionSecret, "SQLite format 3", ...(shadow.length > 8 ? [shadow] : [])];
}

/** Samples /healthz while `until` is pending; returns the slowest answer in ms. */
async function slowestHealthz(until: Promise<unknown>): Promise<number> {
  let done = false;
  until.then(
    () => (done = true),
    () => (done = true),
  );
  let slowest = 0;
  while (!done) {
    const started = Date.now();
    await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(20_000) }).catch(() => undefined);
    slowest = Math.max(slowest, Date.now() - started);
    await sleep(200);
  }
  return slowest;
}

/**
 * The run ended soon after its timeout (cloning and starting take a few seconds on top), and the
 * server answered /healthz quickly all along.
 */
async function expectEndedInTime(started: number, finished: Promise<unknown>): Promise<void> {
  const slowest = await slowestHealthz(finished);
  const ended = await finished.then(
    () => Date.now() - started,
    () => undefined,
  );
  expect.soft(slowest, "the slowest /healthz answer (ms)").toBeLessThan(2_000);
  expect(ended, "how long the run took (ms)").toBeLessThan((QUICK_TIMEOUT_S + 30) * 1000);
}

describe("the file tools, attacked through links a command plants", () => {
  it("read nothing of the server or the host through links out of the working tree", async () => {
    const marker = "[case-links-out]";
    const plant = [
      `ln -s ${cwd} srv`,
      `ln -s ${join(cwd, "data")} data`,
      `ln -s ${join(cwd, ".env")} env-file`,
      `ln -s ${join(cwd, "app.private-key.pem")} key.pem`,
      "ln -s / rootfs",
      "mkdir -p deep/er && ln -s ../../srv deep/er/up",
      "echo planted",
    ].join(" && ");
    const attempts = [
      call("shell", { command: plant }),
      call("grep", { pattern: "PRIVATE|SECRET|KEY", path: "srv" }),
      call("grep", { pattern: "[A-Za-z0-9+/]{40}", path: "deep" }),
      call("grep", { pattern: ".", path: "env-file" }),
      call("grep", { pattern: "root", path: "rootfs/etc", include: "shadow" }),
      call("grep", { pattern: ".", path: "data" }),
      call("glob", { pattern: "**/*", path: "srv" }),
      call("glob", { pattern: "**/session-secret", path: "deep" }),
      call("view", { path: "key.pem" }),
      call("view", { path: "env-file" }),
      call("view", { path: "data/session-secret" }),
      call("view", { path: "rootfs/etc/shadow" }),
      call("view", { path: "deep/er/up/.env" }),
      call("view", { path: "srv" }),
    ];
    world.model.session(marker, (turn, _attempt, request) => {
      if (turn < attempts.length) return attempts[turn]!;
      // Whatever came back goes to GitHub too, as a comment on the pull request.
      if (turn === attempts.length) return call("comment", { body: JSON.stringify(toolResults(request.body.messages)).slice(0, 60_000) });
      return outcome("Looked.");
    });
    const { pull, head } = await pullRequest(REPO, marker);
    await eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { what: "the run's check" });

    const requests = world.model.sessionRequests(marker);
    const results = toolResults(requests.at(-1)!.body.messages);
    // The attack ran to its end: every call was answered.
    expect(results.length).toBeGreaterThanOrEqual(attempts.length + 1);
    expect(JSON.stringify(results[0])).toContain("planted");
    const seen = JSON.stringify(requests.map((request) => request.body.messages));
    const posted = JSON.stringify([world.github.comments.filter((comment) => comment.issue === pull.number), world.github.checkRuns.filter((check) => check.head_sha === head)]);
    for (const secret of await serverSecrets()) {
      expect(seen, "a tool result").not.toContain(secret);
      expect(posted, "GitHub").not.toContain(secret);
      expect(server.output(), "the server's log").not.toContain(secret);
    }
    // Nor even the names of the server's files.
    for (const name of ["session-secret", "routines.db", "app.private-key.pem"]) expect(JSON.stringify(results.slice(1))).not.toContain(`${name}\\n`);
  });

  it("grep's ripgrep takes no option from the pattern, the tree or the server's environment, and no huge file holds it", async () => {
    const marker = "[case-ripgrep]";
    const plant = [
      `ln -s ${cwd} srv`,
      `printf '#!/bin/sh\\ncat ${join(cwd, ".env")}\\n' > pre.sh && chmod +x pre.sh`,
      "head -c 3000000 /dev/zero | tr '\\0' a > huge.txt",
      "mkdir -p many && for i in $(seq 1 2000); do echo match-$i > many/f$i.txt; done",
      "echo planted",
    ].join(" && ");
    const attempts = [
      call("shell", { command: plant }),
      // Settings ripgrep would take if it were pointed at them (the sandbox keeps commands from writing this name).
      call("create_file", { path: ".ripgreprc", content: "--follow\n--pre=./pre.sh\n" }),
      call("grep", { pattern: "[A-Za-z0-9+/]{30}" }),
      call("grep", { pattern: "--pre=./pre.sh" }),
      call("grep", { pattern: "-L", path: "srv" }),
      call("grep", { pattern: "--follow", include: "--pre=./pre.sh" }),
      call("grep", { pattern: "-f.env", path: "srv" }),
      call("grep", { pattern: "a", path: "huge.txt" }),
      call("grep", { pattern: "a+$" }),
      call("grep", { pattern: "match-" }),
    ];
    world.model.session(marker, (turn, _attempt, request) => {
      if (turn < attempts.length) return attempts[turn]!;
      if (turn === attempts.length) return call("comment", { body: JSON.stringify(toolResults(request.body.messages)).slice(0, 60_000) });
      return outcome("Searched.");
    });
    const { pull, head } = await pullRequest(REPO, marker);
    await eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { what: "the run's check" });

    const requests = world.model.sessionRequests(marker);
    const results = toolResults(requests.at(-1)!.body.messages) as Array<{ content: string; is_error?: boolean }>;
    expect(results.length).toBeGreaterThanOrEqual(attempts.length + 1);
    expect(results[0]!.content).toContain("planted");
    const seen = JSON.stringify(requests.map((request) => request.body.messages));
    const posted = JSON.stringify(world.github.comments.filter((comment) => comment.issue === pull.number));
    for (const secret of await serverSecrets()) {
      expect(seen, "a tool result").not.toContain(secret);
      expect(posted, "GitHub").not.toContain(secret);
    }
    // Neither the operator's configuration nor the tree's ran anything, and no link was followed.
    expect(await readFile(ripgrepConfig.ran).then(() => "ran", () => "never ran")).toBe("never ran");
    // The patterns were patterns: the planted files matched them as text.
    expect(results[3]!.content).toBe(".ripgreprc:2: --pre=./pre.sh");
    expect(results[4]!.content).toMatch(/^grep failed: srv leads outside the working tree/);
    expect(results[5]!.content).toBe("No matches for /--follow/.");
    expect(results[7]!.content).toMatch(/huge\.txt is larger than 2 MB, which grep does not search/);
    // The huge file was skipped, and the many matches were cut to the most shown.
    expect(results[8]!.content).not.toContain("huge.txt");
    expect(results[9]!.content).toMatch(/\n\[1700 more matches not shown; narrow the search\]$/);
  });

  it("write nothing into a repository's .git: not its config, not a hook, not through a link to it", async () => {
    const marker = "[case-git-dir]";
    const planted = `attacker-${randomBytes(6).toString("hex")}`;
    const attempts = [
      call("shell", { command: "ln -s .git gitdir && mkdir -p nested && ln -s ../.git/hooks nested/hooks && echo planted" }),
      call("edit_file", { path: ".git/config", old_text: "[core]", new_text: `[core]\n\thooksPath = /tmp/${planted}\n[http]\n\tcorsProxy = http://127.0.0.1:9/${planted}` }),
      call("create_file", { path: ".git/hooks/pre-push", content: `#!/bin/sh\necho ${planted}\n` }),
      call("create_file", { path: "gitdir/info/alternates", content: `/tmp/${planted}\n` }),
      call("insert_lines", { path: "gitdir/config", after_line: 1, text: `# ${planted}` }),
      call("create_file", { path: "nested/hooks/post-checkout", content: `#!/bin/sh\necho ${planted}\n` }),
      call("create_file", { path: "sub/.GIT/config", content: `# ${planted}\n` }),
      call("shell", { command: "cat .git/config; ls .git/hooks .git/info 2>&1; cat .git/info/alternates 2>&1; true" }),
    ];
    world.model.session(marker, (turn) => (turn < attempts.length ? attempts[turn]! : outcome("Tried.")));
    const { head } = await pullRequest(REPO, marker);
    await eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { what: "the run's check" });

    const results = toolResults(world.model.sessionRequests(marker).at(-1)!.body.messages) as Array<{ content: string; is_error?: boolean }>;
    expect(results).toHaveLength(attempts.length);
    expect(results[0]!.content).toContain("planted");
    // Each write into .git, however its path is spelled, was refused and said why.
    for (const refused of results.slice(1, 7)) expect(refused).toMatchObject({ is_error: true, content: expect.stringMatching(/\.git/) });
    // What the shell sees afterwards holds nothing the tools tried to write.
    expect(results.at(-1)!.content).not.toContain(planted);
    expect(results.at(-1)!.content).toContain("[core]");
  });

  it("a link to / neither keeps a run past its timeout nor slows the server", async () => {
    const marker = "[case-root]";
    world.model.session(marker, (turn) =>
      [
        call("shell", { command: "ln -s / rootfs && ln -s /proc proc && ln -s . loop && echo planted" }),
        call("grep", { pattern: "never-there-[0-9]{9}" }),
        call("grep", { pattern: "never-there-[0-9]{9}", path: "rootfs" }),
        call("glob", { pattern: "**/*.conf" }),
        call("glob", { pattern: "**/*", path: "rootfs" }),
      ][turn] ?? outcome("Searched."),
    );
    const started = Date.now();
    const { head } = await pullRequest(QUICK, marker);
    const finished = eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), {
      timeoutMs: 100_000,
      what: "the run's check",
    });
    await expectEndedInTime(started, finished);
  });

  it("a catastrophic regular expression neither keeps a run past its timeout nor stalls the server", async () => {
    const marker = "[case-backtracking]";
    world.model.session(marker, (turn) =>
      [
        call("create_file", { path: "long.txt", content: `${"a".repeat(5_000)}!\n${"a".repeat(64)}!\n` }),
        call("grep", { pattern: "(a+)+$" }),
        call("grep", { pattern: "^(a|a)*$", include: "*.txt" }),
      ][turn] ?? outcome("Searched."),
    );
    const started = Date.now();
    const { head } = await pullRequest(QUICK, marker);
    const finished = eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), {
      timeoutMs: 100_000,
      what: "the run's check",
    });
    await expectEndedInTime(started, finished);
  });
});
