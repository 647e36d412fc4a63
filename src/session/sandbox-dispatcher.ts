// The program that stays in a run's sandbox and runs the run's commands: `node --input-type=module
// --eval "$(sandboxDispatcher(programs))"`, started once per run inside the sandbox (see
// sandbox-shell.ts). It reads requests, one JSON line each, on stdin, and writes what happens, one
// JSON line each, on stdout:
//
//   in:  {"env":{…},"base":{…}} first, then {"id":1,"command":"npm test","cwd":"/work/tree"}   {"id":1,"stop":true}
//   out: {"ready":true}   {"id":1,"data":"<base64 of stdout and stderr as they come>"}   {"id":1,"code":0}
//
// Each command gets namespaces of its own below this program's. A user namespace (unshare): a
// process cannot read the memory, environment or descriptors of one in a parent user namespace,
// nor trace it, so no command can take this program over or forge its requests. Then srt's seccomp
// helper: a PID namespace with a non-dumpable init, so that when the command's shell ends the
// kernel ends every process it left behind, and no command can signal this program (it is not in
// the command's PID namespace). Commands get the run's environment, which comes first on stdin:
// nothing outside the sandbox runs with it (the guard, the limits, srt's runner, bubblewrap and this
// program run with the server's PATH alone, `base`), so that BASH_ENV, LD_PRELOAD or NODE_OPTIONS
// in it act only inside; what the sandbox adds to this program's own (srt's proxies, TMPDIR) is
// added to it. Commands get no descriptor but stdin (/dev/null), stdout and stderr: node opens everything else close-on-exec,
// and stdin and stdout here are sockets, which cannot be opened again through /proc. The programs
// are named by absolute path: PATH is the routine's to set, and may name the working tree.
// Stopping a command kills its process group: unshare, the helper and the namespace's init. When
// stdin ends (the server closed the run, or died), every command is killed and the program exits.
// Kept as text, like sandbox-runner.ts, so that it works the same from the built server and the sources.

/** The programs the dispatcher runs each command with, by absolute path. */
export interface CommandPrograms {
  unshare: string;
  applySeccomp: string;
  bash: string;
}

export const sandboxDispatcher = ({ unshare, applySeccomp, bash }: CommandPrograms) => `
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { constants } from "node:os";
const PREFIX = [${JSON.stringify(unshare)}, "--user", "--map-root-user", "--", ${JSON.stringify(applySeccomp)}, ${JSON.stringify(bash)}, "-c"];
const running = new Map();
// The sandbox's own variables: what differs from the environment this program was started with.
const SHELL_OWN = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
let commandEnv;
const environment = ({ env, base }) => {
  const added = Object.entries(process.env).filter(([name, value]) => base[name] !== value && !SHELL_OWN.has(name));
  commandEnv = { ...env, ...Object.fromEntries(added) };
};
let paused = [];
/** Writes one message; false when the server has yet to read what came before. */
const send = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
// Output waits while the server has not read what came before: memory stays bounded.
const forward = (id, child) => (chunk) => {
  if (send({ id, data: chunk.toString("base64") })) return;
  child.stdout.pause();
  child.stderr.pause();
  paused.push(child);
};
process.stdout.on("drain", () => {
  for (const child of paused) {
    child.stdout.resume();
    child.stderr.resume();
  }
  paused = [];
});
const kill = (child) => {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
};
const start = ({ id, command, cwd }) => {
  let child;
  try {
    if (!commandEnv) throw new Error("the run's environment has not arrived");
    child = spawn(PREFIX[0], [...PREFIX.slice(1), command], { cwd, env: commandEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    send({ id, error: error.message });
    return;
  }
  running.set(id, child);
  child.stdout.on("data", forward(id, child));
  child.stderr.on("data", forward(id, child));
  child.on("error", (error) => {
    running.delete(id);
    send({ id, error: error.message });
  });
  // When the command's shell has ended, its namespace's init has too, and the kernel has ended the rest.
  child.on("close", (code, signal) => {
    running.delete(id);
    send({ id, code: code ?? 128 + (constants.signals[signal] ?? 0) });
  });
};
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.env && request.base && !commandEnv) {
    environment(request);
  } else if (request.stop) {
    const child = running.get(request.id);
    if (child) kill(child);
  } else if (typeof request.command === "string" && !running.has(request.id)) {
    start(request);
  }
});
lines.on("close", () => {
  for (const child of running.values()) kill(child);
  process.exit(0);
});
send({ ready: true });
`;
