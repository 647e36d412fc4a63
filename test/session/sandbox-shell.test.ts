import { realpathSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Environment } from "../../src/config/schema.js";
import { createRunDirectory, type RunDirectory } from "../../src/session/run-directory.js";
import { confineRun } from "../../src/session/run-limits.js";
import type { CommandRequest } from "../../src/session/run-command.js";
import { commandPrograms, sandboxLauncher, SandboxProgramError } from "../../src/session/sandbox.js";
import { sandboxShell, SandboxStartError, type SandboxShell } from "../../src/session/sandbox-shell.js";

const env = { PATH: "/usr/bin:/bin", ROUTINE_VAR: "visible" };
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function open(policy: unknown = { network: "none" }, tree?: (root: string) => Promise<void>): Promise<{ shell: SandboxShell; root: string; dir: RunDirectory; run: (command: string, more?: Partial<CommandRequest>) => ReturnType<SandboxShell["run"]> }> {
  const root = await realpath(await mkdtemp(join(tmpdir(), "routines-shell-")));
  const dir = await createRunDirectory();
  // The working tree is there before the sandbox, as a run's checkout is.
  await tree?.(root);
  const launch = await sandboxLauncher(Environment.parse(policy), { writable: [root, dir.home], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
  const shell = sandboxShell({ launch, cwd: root, env: { ...env, HOME: dir.home }, programs: commandPrograms() });
  cleanups.push(async () => {
    await shell.close();
    await dir.remove();
    await rm(root, { recursive: true, force: true });
  });
  const run = (command: string, more: Partial<CommandRequest> = {}) => shell.run({ command, cwd: root, timeoutMs: 30_000, timeoutReason: "timed out", ...more });
  return { shell, root, dir, run };
}

/** Host processes whose command line holds `text`. */
async function mentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)) {
    const argv = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (argv.includes(text)) found.push(`${name} ${argv.replace(/\0/g, " ")}`);
  }
  return found;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 100))) if (await check()) return true;
  return check();
}

const number = () => String(300_000 + Math.floor(Math.random() * 600_000));

describe("a run's sandbox", () => {
  it("runs each command in its working directory, with the run's environment, its exit code and its output", async () => {
    const { root, run } = await open();
    await mkdir(join(root, "sub"));
    expect(await run("pwd; echo $ROUTINE_VAR; echo err >&2; exit 3", { cwd: join(root, "sub") })).toEqual({ code: 3, output: `${join(root, "sub")}\nvisible\nerr\n` });
    expect(await run("echo again")).toEqual({ code: 0, output: "again\n" });
    // A command killed by a signal reads as a shell tells it.
    expect((await run("kill -9 $$")).code).toBe(137);
  });

  it("gives stdout and stderr in the order the command wrote them, and what bash says of a command it cannot parse", async () => {
    const { run } = await open();
    const interleaved = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(await run(interleaved.map((i) => `echo out${i}; echo err${i} >&2`).join("; "))).toEqual({ code: 0, output: interleaved.map((i) => `out${i}\nerr${i}\n`).join("") });
    const broken = await run("echo 'unterminated");
    expect(broken.code).toBe(2);
    expect(broken.output).toContain("unexpected EOF");
  });

  it("ends what a command leaves running when the command ends, unlike a shell's background jobs", async () => {
    const { run } = await open();
    const marker = number();
    expect(await run(`(setsid nohup sleep ${marker} > /dev/null 2>&1 &); sleep ${marker}1 & echo left`)).toEqual({ code: 0, output: "left\n" });
    await waitFor(async () => (await mentioning(marker)).length === 0, 5_000);
    expect(await mentioning(marker)).toEqual([]);
    expect((await run("pgrep -x sleep || echo none")).output).toBe("none\n");
  });

  it("stops a command at its time limit or when the run stops, with everything it started, and runs the next", async () => {
    const { run } = await open();
    const marker = number();
    expect(await run(`echo started; (setsid sleep ${marker} &); sleep ${marker}1`, { timeoutMs: 1_000, timeoutReason: "timed out after 1s" })).toEqual({ code: null, stopped: "timed out after 1s", output: "started\n" });
    await waitFor(async () => (await mentioning(marker)).length === 0, 5_000);
    expect(await mentioning(marker)).toEqual([]);
    const controller = new AbortController();
    const stopped = run(`sleep ${marker}`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    expect(await stopped).toMatchObject({ code: null, stopped: "the run was stopped" });
    expect(await run("echo next")).toEqual({ code: 0, output: "next\n" });
  });

  it("keeps the first and last parts of long output", async () => {
    const { run } = await open();
    const { output } = await run("echo FIRST; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo LAST");
    expect(output.length).toBe(2_000_000);
    expect(output.startsWith("FIRST\n")).toBe(true);
    expect(output.endsWith("x\nLAST\n")).toBe(true);
  });

  it("cannot be reached by its commands: not signalled, not read, not written", async () => {
    const { run } = await open();
    const attack = await run(
      [
        // The dispatcher: node (the server's), started with its program as text.
        "for p in /proc/[0-9]*; do",
        `  [ "$(tr '\\0' '\\n' < "$p/cmdline" 2>/dev/null | head -2 | tr '\\n' ' ')" = "${process.execPath} --input-type=module " ] || continue`,
        '  echo "found $p"',
        '  cat "$p/environ" > /dev/null 2>&1 && echo "read environ"',
        '  { exec 3<>"$p/mem"; } 2>/dev/null && echo "opened memory"',
        '  echo x > "$p/fd/0" 2>/dev/null && echo "wrote fd 0"',
        '  ls "$p/fd/" > /dev/null 2>&1 && [ -n "$(ls "$p/fd/" 2>/dev/null)" ] && readlink "$p/fd/0" > /dev/null 2>&1 && echo "listed descriptors"',
        '  kill -9 "${p#/proc/}" 2>/dev/null',
        "done; echo done",
      ].join("\n"),
    );
    expect(attack.output).toMatch(/^found \/proc\/\d+$/m);
    expect(attack.output).not.toMatch(/read environ|opened memory|wrote fd 0|listed descriptors/);
    expect(await run("echo alive")).toEqual({ code: 0, output: "alive\n" });
  });

  it("starts again for the next command when it ended, and fails the command it ran", async () => {
    const { run, dir } = await open();
    expect((await run("true")).code).toBe(0);
    const running = run("sleep 30");
    await waitFor(async () => (await mentioning(dir.sandbox)).length > 0, 5_000);
    // The sandbox's own processes (srt's runner names its settings in the run's directory) killed from outside.
    // One may be gone already: killing the first takes those started with --die-with-parent down too.
    for (const line of await mentioning(dir.sandbox)) {
      try {
        process.kill(Number(line.split(" ")[0]), "SIGKILL");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
    }
    expect(await running).toMatchObject({ code: null, stopped: expect.stringContaining("the run's sandbox ended while the command ran") });
    expect(await run("echo again")).toEqual({ code: 0, output: "again\n" });
  });

  it("leaves no stand-ins in the working tree and keeps git's hooks and config from commands", async () => {
    const { root, run } = await open({ network: "none" }, async (tree) => {
      await mkdir(join(tree, ".git"));
      await writeFile(join(tree, ".git", "config"), "[core]\n");
      await writeFile(join(tree, ".bashrc"), "# the repository's\n");
    });
    const result = await run("ls -A; echo x >> .git/config; mkdir -p .git/hooks && echo hook > .git/hooks/pre-push; echo y >> .bashrc; echo z > .mcp.json; echo done");
    expect(result.output).toContain("done");
    expect(await readFile(join(root, ".git", "config"), "utf8")).toBe("[core]\n");
    expect(await readFile(join(root, ".bashrc"), "utf8")).toBe("# the repository's\n");
    await expect(readFile(join(root, ".git", "hooks", "pre-push"))).rejects.toThrow();
    // What the sandbox leaves is the commands' own: no empty .gitconfig, .profile, … while it lives.
    expect((await readdir(root)).sort()).toEqual([".bashrc", ".git", ".mcp.json"]);
  });

  it("ends with the run: close() stops what runs and removes it all, and refuses later commands", async () => {
    const { shell, run, dir } = await open({ network: "trusted" });
    const marker = number();
    const running = run(`sleep ${marker}`);
    await waitFor(async () => (await mentioning(marker)).length > 0, 10_000);
    await shell.close();
    expect(await running).toMatchObject({ code: null });
    await waitFor(async () => (await mentioning(marker)).length === 0 && (await mentioning(dir.sandbox)).length === 0, 5_000);
    expect([...(await mentioning(marker)), ...(await mentioning(dir.sandbox))]).toEqual([]);
    await expect(run("true")).rejects.toThrow(SandboxStartError);
  });

  it("is refused, saying why, when the server's node is among the files commands may not see", async () => {
    const dir = await createRunDirectory();
    cleanups.push(() => dir.remove());
    const hidden = [dirname(realpathSync(process.execPath))];
    await expect(sandboxLauncher(Environment.parse({ network: "none" }), { writable: [dir.work], hidden, tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets })).rejects.toThrow(SandboxProgramError);
  });

  // As for a command's own sandbox (see run-limits.test.ts): the kernel counts the processes of a
  // user namespace and those below it, but does not enforce the cap for root.
  it("takes the run's process cap without a control group: in the sandbox's user namespace, for all its commands", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-shell-")));
    const dir = await createRunDirectory();
    const confinement = await confineRun({ maxProcesses: 40, maxMemory: 1024 ** 3, maxDisk: 1024 ** 3 }, dir.path);
    const launch = await sandboxLauncher(Environment.parse({ network: "none" }), { writable: [root, dir.home], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
    const shell = sandboxShell({ launch: confinement.launcher(launch, true), cwd: root, env: { ...env, HOME: dir.home }, programs: commandPrograms() });
    cleanups.push(async () => {
      await shell.close();
      await confinement.close();
      await dir.remove();
      await rm(root, { recursive: true, force: true });
    });
    const run = (command: string) => shell.run({ command, cwd: root, timeoutMs: 60_000, timeoutReason: "timed out" });
    expect(await run("ulimit -Hu; ulimit -Su")).toEqual({ code: 0, output: "40\n40\n" });
    expect(await run("ulimit -HSu 100 2>/dev/null || echo refused; ulimit -Hu")).toEqual({ code: 0, output: "refused\n40\n" });
  });

  it("gives the run's environment to its commands only: BASH_ENV, NODE_OPTIONS and LD_PRELOAD act on nothing outside the sandbox", async () => {
    // Programs in the host's /tmp, which the sandbox does not show: each would leave a file there if it ran.
    const host = await mkdtemp(join(tmpdir(), "routines-outside-"));
    cleanups.push(() => rm(host, { recursive: true, force: true }));
    await writeFile(join(host, "env.sh"), `echo "bash $$" > ${host}/ran-bash-$$\n`);
    await writeFile(join(host, "options.cjs"), `require("fs").writeFileSync(${JSON.stringify(host)} + "/ran-node-" + process.pid, process.argv.join(" "));\n`);
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-shell-")));
    const dir = await createRunDirectory();
    const launch = await sandboxLauncher(Environment.parse({ network: "trusted" }), { writable: [root, dir.home], hidden: [], tmp: dir.tmp, state: dir.sandbox, sockets: dir.sockets });
    const commandEnv = { ...env, HOME: dir.home, TMPDIR: dir.tmp, BASH_ENV: join(host, "env.sh"), NODE_OPTIONS: `--require ${join(host, "options.cjs")}`, LD_PRELOAD: join(host, "missing.so"), JAVA_TOOL_OPTIONS: "-Dmine=1" };
    const shell = sandboxShell({ launch, cwd: root, env: commandEnv, programs: commandPrograms() });
    cleanups.push(async () => {
      await shell.close();
      await dir.remove();
      await rm(root, { recursive: true, force: true });
    });
    const result = await shell.run({ command: 'echo "$BASH_ENV|$NODE_OPTIONS|$ROUTINE_VAR|$TMPDIR|${HTTP_PROXY:+proxied}"; echo "$JAVA_TOOL_OPTIONS"', cwd: root, timeoutMs: 30_000, timeoutReason: "timed out" });
    const [seen = "", java = ""] = result.output.split("\n").filter((line) => !line.includes("LD_PRELOAD"));
    // The commands have all of it, and the sandbox's own variables besides.
    expect(seen).toBe(`${commandEnv.BASH_ENV}|${commandEnv.NODE_OPTIONS}|visible|${dir.tmp}|proxied`);
    expect(java).toContain("-Dmine=1");
    expect(java).toContain("-javaagent:");
    // Nothing ran outside.
    expect((await readdir(host)).sort()).toEqual(["env.sh", "options.cjs"]);
  });
});
