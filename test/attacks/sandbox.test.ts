// Attacks on the command sandbox through the built server, under every network level: a scripted
// agent's shell command tries to read the App's private key (named by a relative PRIVATE_KEY_PATH,
// or found by Probot as the one `*.pem` in the server's working directory), `.env`, the database,
// the dashboard's session secret, the server's environment through /proc, a file of another
// program in the host's /tmp and one in the server user's HOME, and leaves a background process
// behind. Whatever it found goes to the model (the tool result) and to GitHub (a comment); the test
// asserts that none of it arrived, and that the background process ended with the command.
// `network: full` is granted to some repositories by the operator, never to a fork's pull request.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateKey } from "../support/github.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, sleep, type ServerProcess } from "../e2e/support/server-process.js";
import { call, isStatusComment, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const random = () => randomBytes(12).toString("hex");
const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

const LEVELS = {
  none: { network: "none" },
  trusted: { network: "trusted" },
  custom: { network: "custom", allowed_domains: ["registry.npmjs.org"] },
  full: { network: "full" },
} as const;
type Level = keyof typeof LEVELS;

/** How the server finds its key: a relative PRIVATE_KEY_PATH, or Probot's own search of its working directory. */
const KEY_SOURCES = {
  path: { file: "app.pem", dotenv: { PRIVATE_KEY: "", PRIVATE_KEY_PATH: "app.pem" } },
  found: { file: "routines-app.2024-01-01.private-key.pem", dotenv: { PRIVATE_KEY: "" } },
} as const;
type KeySource = keyof typeof KEY_SOURCES;

/** What a leak would look like: each a value only the place it was read from holds. */
interface Secrets {
  server: ServerProcess;
  markers: Record<string, string>;
  dataDir: string;
}

let world: World;
const servers: Partial<Record<KeySource, Secrets>> = {};
// Files outside any server: another program's in the host's /tmp, and one in the server user's HOME.
const hostFiles = { tmp: join(tmpdir(), `routines-attack-${random()}`), home: join(homedir(), `.routines-attack-${random()}`) };
const hostMarkers = { tmp: random(), home: random() };
/** What runs may leave behind: background processes (by their sleep's number) and files. */
const leftovers: string[] = [];
const leftoverFiles: string[] = [hostFiles.tmp, hostFiles.home];

const repositoryOf = (source: KeySource, level: Level | "ungranted") => `acme/${source}-${level}`;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await writeFile(hostFiles.tmp, `${hostMarkers.tmp}\n`);
  await writeFile(hostFiles.home, `${hostMarkers.home}\n`);
  for (const source of Object.keys(KEY_SOURCES) as KeySource[]) {
    for (const level of [...(Object.keys(LEVELS) as Level[]), "ungranted" as const]) {
      const environment = level === "ungranted" ? LEVELS.full : LEVELS[level];
      await world.github.addRepository(repositoryOf(source, level), 7, {
        "src/app.js": "export const answer = 42;\n",
        ".claude/routines.yml": routinesYml(
          { review: { prompt: "Review this pull request.", environment: "work", triggers: [{ github: { event: "pull_request", actions: ["opened"], forks: true } }] } },
          { environments: { work: environment } },
        ),
      });
    }
  }
  for (const source of Object.keys(KEY_SOURCES) as KeySource[]) {
    const { file, dotenv } = KEY_SOURCES[source];
    const cwd = await mkdtemp(join(tmpdir(), "routines-attack-server-"));
    leftoverFiles.push(cwd);
    await writeFile(join(cwd, file), privateKey);
    const dotenvMarker = random();
    const environMarker = random();
    const server = await world.startServer({
      cwd,
      extra: {
        ...dotenv,
        ROUTINES_ATTACK_DOTENV: dotenvMarker,
        ROUTINES_FULL_NETWORK_REPOSITORIES: `${repositoryOf(source, "full")},acme/elsewhere`,
      },
      env: { ROUTINES_ATTACK_ENVIRON: environMarker },
    });
    const dataDir = join(cwd, "data");
    const sessionSecret = (await readFile(join(dataDir, "session-secret"), "utf8")).trim();
    const keyLines = privateKey.split("\n").filter((line) => line.length > 0 && !line.startsWith("-----"));
    servers[source] = {
      server,
      dataDir,
      markers: {
        "the private key": keyLines[5]!,
        "the private key's digest": sha256(privateKey),
        ".env": dotenvMarker,
        ".env's digest": sha256(await readFile(join(cwd, ".env"))),
        "the database": "SQLite format 3",
        "the session secret": sessionSecret,
        "the session secret's digest": sha256(await readFile(join(dataDir, "session-secret"))),
        "the server's environment": environMarker,
        "a file in the host's /tmp": hostMarkers.tmp,
        "a file in the server user's HOME": hostMarkers.home,
      },
    };
  }
});

keepDiagnostics(() => ({ world, servers: Object.values(servers).map((secrets) => secrets?.server) }));

afterAll(async () => {
  await world?.close();
  for (const pid of await processesMentioning(...leftovers)) process.kill(pid, "SIGKILL");
  await Promise.all(leftoverFiles.map((path) => rm(path, { recursive: true, force: true })));
});

/** Host processes whose command line holds one of `texts`. */
async function processesMentioning(...texts: string[]): Promise<number[]> {
  if (texts.length === 0) return [];
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (texts.some((text) => argv.includes(text))) found.push(Number(name));
  }
  return found;
}

/**
 * The attack, as one shell command: print every file it should not read (and its digest, which
 * no redaction of the text would hide), the environment of every process that looks like the
 * server, then leave a process behind that writes to the host's /tmp once the run is over.
 */
function attack(secrets: Secrets, keyFile: string, background: { file: string; sleep: string }): string {
  const { server, dataDir } = secrets;
  const read = (path: string) => `echo "== ${path}"; head -c 3000 "${path}" 2>&1; echo; sha256sum "${path}" 2>&1`;
  return [
    read(join(server.cwd, keyFile)),
    read(join(server.cwd, ".env")),
    `echo "== database"; head -c 16 "${join(dataDir, "routines.db")}" 2>&1; echo`,
    read(join(dataDir, "session-secret")),
    // The server's process found by scanning /proc, and by its number.
    `for p in /proc/[0-9]*; do if tr '\\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q 'dist/server.js'; then echo "== server $p"; tr '\\0' '\\n' < "$p/environ" 2>&1 | grep -a ATTACK; fi; done`,
    `echo "== /proc/${server.pid}/environ"; tr '\\0' '\\n' < /proc/${server.pid}/environ 2>&1 | grep -a ATTACK`,
    read(hostFiles.tmp),
    read(hostFiles.home),
    `(setsid nohup bash -c 'sleep 3; echo outlived > ${background.file}; exec sleep ${background.sleep}' > /dev/null 2>&1 &)`,
    `echo "== network"; curl -s -o /dev/null -w '%{http_code}\\n' --max-time 5 http://${world.github.host}/api/v3/ 2>&1`,
    "echo attack-done",
  ].join("\n");
}

let pulls = 0;
/** Opens a pull request on `repository` (from a fork when `fork` is given) whose run plays `script`. */
async function runAttack(source: KeySource, repository: string, fork?: string) {
  const secrets = servers[source]!;
  const marker = `[attack-${++pulls}]`;
  const branch = `attack/${pulls}`;
  await world.github.commit(repository, branch, { "src/app.js": `export const answer = ${pulls};\n` });
  const pull = await world.github.openPullRequest(repository, { head: branch, title: `Tidy ${marker}`, user: "mallory" });
  if (fork) world.github.pullRequests.get(`${repository}#${pull.number}`)!.fork = fork;
  const background = { file: join(tmpdir(), `routines-attack-outlived-${random()}`), sleep: String(700_000 + Math.floor(Math.random() * 200_000)) };
  leftovers.push(background.sleep);
  leftoverFiles.push(background.file);
  world.model.session(marker, (turn, _attempt, request) => {
    if (turn === 0) return call("shell", { command: attack(secrets, KEY_SOURCES[source].file, background) });
    // What the command printed goes out, as a comment on the pull request.
    if (turn === 1) return call("comment", { body: JSON.stringify(request.body.messages.at(-1)).slice(0, 60_000) });
    return outcome("Tidied.");
  });
  await secrets.server.deliver("pull_request", await pullRequestEvent(world.github, repository, pull.number, "opened"));
  const head = await world.github.sha(repository, `refs/heads/${branch}`);
  const check = await eventually(() => world.github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: `the run on ${repository}` });
  const comment = world.github.comments.find((c) => c.repository === repository && c.issue === pull.number && !isStatusComment(c));
  return { secrets, marker, repository, pull: pull.number, head, check, comment, background };
}

/** The names of the secrets that reached the model or GitHub in this run: its requests to the model, its comments and check runs. */
function leaked({ secrets, marker, repository, pull, head }: Awaited<ReturnType<typeof runAttack>>): string[] {
  const wires = JSON.stringify([
    world.model.sessionRequests(marker).map((request) => request.body),
    world.github.comments.filter((c) => c.repository === repository && c.issue === pull),
    world.github.checkRuns.filter((c) => c.head_sha === head),
  ]);
  return Object.entries(secrets.markers)
    .filter(([, value]) => wires.includes(value))
    .map(([name]) => name);
}

/** Whether the background process outlived its command: its file on the host, or itself. */
async function outlived(background: { file: string; sleep: string }) {
  // It writes its file 3 s after it started; the run took longer than that, but give it time.
  await sleep(4_000);
  return { wroteItsFile: existsSync(background.file), stillRunning: (await processesMentioning(background.sleep)).length > 0 };
}

/** The HTTP status the command got from the fake GitHub directly ("000": no connection). */
const networkAnswer = (comment: { body: string } | undefined) => /== network\\n(\d{3})/.exec(comment?.body ?? "")?.[1];
/** What the command printed from its network check on, for a failure's message. */
const networkSection = (comment: { body: string } | undefined) => {
  const body = comment?.body ?? "";
  const at = body.indexOf("== network");
  return at < 0 ? `no network section in ${body.length} characters; they end: ${body.slice(-300)}` : body.slice(at, at + 300);
};

describe("a command, under every network level", () => {
  for (const source of Object.keys(KEY_SOURCES) as KeySource[]) {
    for (const level of Object.keys(LEVELS) as Level[]) {
      it(`reads nothing of the server nor of the host and leaves nothing running: network ${level}, key ${source === "path" ? "at a relative PRIVATE_KEY_PATH" : "found by Probot"}`, async () => {
        const run = await runAttack(source, repositoryOf(source, level));
        const { comment, background } = run;
        // The attack ran, and what it printed went out.
        expect(comment?.body).toContain("attack-done");
        expect({ leaked: leaked(run), background: await outlived(background) }).toEqual({ leaked: [], background: { wroteItsFile: false, stillRunning: false } });
        // Only full reaches the network directly (here: the fake GitHub on this machine).
        if (level === "full") expect(networkAnswer(comment), networkSection(comment)).toMatch(/^[1-5]\d\d$/);
        else expect(networkAnswer(comment), networkSection(comment)).toBe("000");
      });
    }
  }
});

describe("network: full", () => {
  it("is refused for a repository the operator did not list, naming the setting", async () => {
    const { check, comment, marker } = await runAttack("path", repositoryOf("path", "ungranted"));
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toContain("ROUTINES_FULL_NETWORK_REPOSITORIES");
    expect(comment).toBeUndefined();
    // The run ended before the agent started.
    expect(world.model.sessionRequests(marker)).toEqual([]);
  });

  it("is never given to a fork's pull request: its run gets network trusted, in the sandbox", async () => {
    const run = await runAttack("path", repositoryOf("path", "full"), "mallory/path-full");
    const { comment, background } = run;
    expect(comment?.body).toContain("attack-done");
    expect({ leaked: leaked(run), background: await outlived(background) }).toEqual({ leaked: [], background: { wroteItsFile: false, stillRunning: false } });
    expect(networkAnswer(comment)).toBe("000");
  });
});
