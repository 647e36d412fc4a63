// Attacks on the run's shared sandbox through the built server: a run's commands all run in one
// sandbox, so one command tries to reach the next. In one run, the first command leaves a spy
// behind that watches the later commands' processes (their environment, command lines and output
// through /proc) and writes what it finds into the working tree; a later command has a secret in
// its environment and output, another is stopped at its time limit mid-command, and the last
// prints what the spy found. In another run, the first command writes forged requests and answers
// to every descriptor of the dispatcher that feeds commands to the sandbox, the next kills every
// process it can see, and the last shows whether the forged command ran. What the commands printed
// goes to the model (the tool results): the test asserts that the spy found nothing and is gone,
// that the forgeries did nothing, that the sandbox outlived the attempt to kill it, and that a
// command after a stopped one runs. A server killed mid-command must take the run's sandbox, its
// proxies and the command with it. Last, a routine's environment names the repository's own files
// in BASH_ENV and NODE_OPTIONS: they must act only on commands, never on what starts the sandbox
// outside it.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const random = () => randomBytes(12).toString("hex");
const REPOSITORY = "acme/shared-sandbox";
/** A repository whose environment names its own files in BASH_ENV and NODE_OPTIONS. */
const HOOKED = "acme/hooked-environment";
/** Where those files write when they run outside the sandbox: the host's /tmp, which the sandbox does not show. */
const outsideMarker = join(tmpdir(), `routines-attack-outside-${random()}`);

let world: World;
let server: ServerProcess;
/** The spy's sleep, by its number: it must not outlive the run either. */
const spySleep = String(600_000 + Math.floor(Math.random() * 90_000));
/** What a failed test may leave running: killed at the end. */
const leftovers = [spySleep];

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(REPOSITORY, 7, {
    "src/app.js": "export const answer = 42;\n",
    ".claude/routines.yml": routinesYml(
      { review: { prompt: "Review this pull request.", environment: "work", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } },
      { environments: { work: { network: "trusted" } } },
    ),
  });
  await world.github.addRepository(HOOKED, 7, {
    "hooks/env.sh": `echo "bash $$ $(tr '\\0' ' ' < /proc/$$/cmdline | head -c 80)" >> ${outsideMarker}\n`,
    "hooks/options.cjs": `require("fs").appendFileSync(${JSON.stringify(outsideMarker)}, "node " + process.argv.join(" ").slice(0, 80) + "\\n");\n`,
    ".claude/routines.yml": routinesYml(
      { review: { prompt: "Review this pull request.", environment: "work", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } },
      { environments: { work: { network: "trusted", env: { BASH_ENV: "hooks/env.sh", NODE_OPTIONS: "--require ./hooks/options.cjs" } } } },
    ),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
  for (const text of leftovers) for (const pid of await processesMentioning(text)) process.kill(pid, "SIGKILL");
  await rm(outsideMarker, { force: true });
});

async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if ((await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).includes(text)) found.push(Number(name));
  }
  return found;
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

/**
 * The spy: waits a second (so that it has done nothing if it dies with its command), then for 20 s
 * reads the environment, command line and output descriptors of every process it can see, and
 * appends what holds the victim's marker to spy.log, with a heartbeat.
 */
const spy = (victim: string) =>
  [
    "sleep 1",
    "for _ in $(seq 100); do",
    '  echo "SPY-ALIVE" >> spy.log',
    "  for p in /proc/[0-9]*; do",
    `    tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -a "${victim.slice(0, 8)}" | sed 's/^/SPY-ENV /' >> spy.log`,
    `    tr '\\0' ' ' < "$p/cmdline" 2>/dev/null | grep -a "${victim.slice(0, 8)}" | sed 's/^/SPY-CMD /' >> spy.log`,
    `    for fd in 1 2; do timeout 0.2 head -c 200 "$p/fd/$fd" 2>/dev/null | grep -a "${victim.slice(0, 8)}" | sed 's/^/SPY-OUT /' >> spy.log; done`,
    "  done",
    "  sleep 0.2",
    "done",
    `exec sleep ${spySleep}`,
  ].join("\n");

/**
 * Forgeries on every descriptor of every process that looks like the dispatcher: a request to run
 * a command that writes forged.txt, and answers that would put text into the next commands' output.
 */
const forge = (cwd: string, forgedOutput: string) => {
  const request = JSON.stringify({ id: 1_000_000, command: "echo forged > forged.txt", cwd });
  const answers = Array.from({ length: 10 }, (_, index) => JSON.stringify({ id: index + 1, data: base64(`${forgedOutput}\n`) })).join("\\n");
  return [
    "trap '' PIPE",
    // node started with its program as text, as the dispatcher is (the attack's own processes hold the words too).
    "for p in /proc/[0-9]*; do",
    `  [ "$(tr '\\0' '\\n' < "$p/cmdline" 2>/dev/null | head -2 | tail -1)" = "--input-type=module" ] || continue`,
    '  echo "== dispatcher-like $p"',
    '  for fd in $(ls "$p/fd" 2>/dev/null) 0 1 2 3 4 5 6 7 8 9; do',
    `    printf '%s\\n' '${request}' > "$p/fd/$fd" 2>/dev/null && echo "wrote a request to $p/fd/$fd"`,
    `    printf '${answers}\\n' > "$p/fd/$fd" 2>/dev/null`,
    "  done",
    "done",
  ].join("\n");
};

/** The text of each tool result of the session, in order. */
function toolResults(marker: string): string[] {
  const last = world.model.sessionRequests(marker).at(-1);
  return ((last?.body.messages ?? []) as { role: string; content: unknown }[])
    .flatMap((message) => (message.role === "user" && Array.isArray(message.content) ? message.content : []))
    .filter((block: { type?: string }) => block.type === "tool_result")
    .map((block: { content?: unknown }) => (typeof block.content === "string" ? block.content : JSON.stringify(block.content)));
}

let pulls = 0;
/** A run whose agent runs `commands` in turn (a number: that command's time limit in seconds); the text of each tool result. */
async function runCommands(commands: (string | [string, number])[], repository = REPOSITORY): Promise<string[]> {
  const marker = `[shared-${++pulls}-${random()}]`;
  const branch = `attack/shared-${pulls}`;
  await world.github.commit(repository, branch, { "src/app.js": `export const answer = ${pulls};\n` });
  const pull = await world.github.openPullRequest(repository, { head: branch, title: `Tidy ${marker}`, user: "mallory" });
  world.model.session(marker, (turn) => {
    const command = commands[turn];
    if (command === undefined) return outcome("Tidied.");
    return call("shell", typeof command === "string" ? { command } : { command: command[0], timeout_seconds: command[1] });
  });
  await server.deliver("pull_request", await pullRequestEvent(world.github, repository, pull.number, "opened"));
  const head = await world.github.sha(repository, `refs/heads/${branch}`);
  await eventually(() => world.github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the run" });
  return toolResults(marker);
}

const lines = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line));

describe("a run's shared sandbox", () => {
  // Each expectation is checked all at once, so that a failure shows every way the attack got through.
  it("ends a command's background spy with the command: it sees nothing of the next commands, and a stopped command leaves the sandbox working", async () => {
    const victim = random();
    const [planted = "", victimRun = "", stopped = "", last = ""] = await runCommands([
      // The spy, left running in the background.
      `(setsid nohup bash -c '${spy(victim).replace(/'/g, "'\\''")}' > /dev/null 2>&1 &)\necho planted`,
      // The victim: a secret in its environment and in its output, for a few seconds.
      `VICTIM_SECRET=${victim} bash -c 'echo "$VICTIM_SECRET" | rev | rev; sleep 3'`,
      // Stopped at its time limit, mid-command.
      ["echo started; sleep 60", 2],
      // What the spy found.
      "cat spy.log 2>&1; echo next-works",
    ]);
    expect({
      planted: planted.includes("planted"),
      victimRan: victimRun.includes(victim),
      stopped: lines(stopped, /^Stopped/),
      // After the stop, the next command ran, and found nothing of the spy.
      nextRan: last.includes("next-works"),
      spyFound: lines(last, /SPY-/).slice(0, 5),
      victimSeenLater: last.includes(victim),
      // Nothing of the spy is left on the host.
      spyOnHost: await processesMentioning(spySleep),
    }).toEqual({ planted: true, victimRan: true, stopped: ["Stopped: timed out after 2s."], nextRan: true, spyFound: [], victimSeenLater: false, spyOnHost: [] });
  });

  it("keeps the dispatcher from its commands: its descriptors cannot be written, it cannot be killed, nothing forged runs or shows", async () => {
    const forgedOutput = `FORGED-${random()}`;
    const results = await runCommands([
      `${forge("$PWD", forgedOutput).replace("$PWD", "'\"$PWD\"'")}\necho planted`,
      // Kill every process it can see, but itself.
      'for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = "$$" ] || kill -9 "$n" 2>/dev/null; done; echo survived-the-kill',
      "cat forged.txt 2>&1; echo next-works",
    ]);
    const [planted = "", killed = "", last = ""] = results;
    expect({
      // It found the dispatcher, and could write to none of its descriptors.
      planted: lines(planted, /^(Exit code|Stopped|planted|== dispatcher-like)/).map((line) => line.replace(/\d+$/, "N")),
      forgedWrites: lines(planted, /wrote a request/),
      // The kill reached nothing outside the command's own namespace: the command, and the sandbox, went on.
      killed: lines(killed, /^(Exit code|Stopped|survived-the-kill)/),
      nextRan: last.includes("next-works"),
      forgedCommandRan: !last.includes("forged.txt: No such file or directory"),
      forgedOutput: results.some((result) => result.includes(forgedOutput)),
    }).toEqual({
      planted: ["Exit code: 0.", "== dispatcher-like /proc/N", "planted"],
      forgedWrites: [],
      killed: ["Exit code: 0.", "survived-the-kill"],
      nextRan: true,
      forgedCommandRan: false,
      forgedOutput: false,
    });
  });

  it("ends with the server: a server killed mid-command leaves no sandbox, proxy or command behind", async () => {
    const doomed = await world.startServer();
    const marker = `[doomed-${random()}]`;
    const sleeper = String(500_000 + Math.floor(Math.random() * 90_000));
    leftovers.push(sleeper);
    const branch = "attack/doomed";
    await world.github.commit(REPOSITORY, branch, { "src/app.js": "export const answer = 0;\n" });
    const pull = await world.github.openPullRequest(REPOSITORY, { head: branch, title: `Tidy ${marker}`, user: "mallory" });
    world.model.session(marker, (turn) => (turn === 0 ? call("shell", { command: `(setsid nohup sleep ${sleeper}1 > /dev/null 2>&1 &); sleep ${sleeper}` }) : outcome("Tidied.")));
    await doomed.deliver("pull_request", await pullRequestEvent(world.github, REPOSITORY, pull.number, "opened"));
    await eventually(async () => ((await processesMentioning(sleeper)).length >= 2 ? true : undefined), { what: "the command" });
    // The run's directory is named for the server's process: srt's runner and bubblewrap name it on their command lines.
    const runDirectory = `routines-run-${doomed.pid}-`;
    expect((await processesMentioning(runDirectory)).length).toBeGreaterThan(0);
    process.kill(doomed.pid!, "SIGKILL");
    const left = async () => [...(await processesMentioning(sleeper)), ...(await processesMentioning(runDirectory))];
    await eventually(async () => ((await left()).length === 0 ? true : undefined), { what: "the sandbox to end with the server" });
    expect(await left()).toEqual([]);
  });

  it("gives the environment's variables to commands only: BASH_ENV and NODE_OPTIONS naming the repository's files run nothing outside the sandbox", async () => {
    const [result = ""] = await runCommands(['echo "$BASH_ENV|$NODE_OPTIONS"; node -e "console.log(\'node ran\')"'], HOOKED);
    // The commands have them (and their own node loads the file, inside).
    expect(result).toContain("hooks/env.sh|--require ./hooks/options.cjs");
    expect(result).toContain("node ran");
    // Nothing of them ran on the host: the guard, the limits and srt's runner are outside the sandbox.
    expect(existsSync(outsideMarker) ? await readFile(outsideMarker, "utf8") : "").toBe("");
  });
});
