// The program that stays in a run's sandbox and runs the run's commands: `node --input-type=module
// --eval "$(sandboxDispatcher(<seccomp helper>))"`, started once per run inside the sandbox (see
// sandbox-shell.ts). It reads requests, one JSON line each, on stdin, and writes what happens, one
// JSON line each, on stdout:
//
//   in:  {"id":1,"command":"npm test","cwd":"/work/tree"}   {"id":1,"stop":true}
//   out: {"ready":true}   {"id":1,"data":"<base64 of stdout and stderr as they come>"}   {"id":1,"code":0}
//
// Each command runs under srt's seccomp helper, which gives it a user, PID and mount namespace of its
// own below this program's, with a non-dumpable init: when the command's shell ends, the kernel ends
// every process it left behind, and nothing a command starts can see, signal, trace or read the
// memory and descriptors of this program (a process cannot ptrace one of a parent user namespace;
// its PID namespace does not hold this program). Commands get this program's environment (the
// sandbox's) and no descriptor but stdin (/dev/null), stdout and stderr: node opens everything else
// close-on-exec, and stdin and stdout here are sockets, which cannot be opened again through /proc.
// Stopping a command kills its process group, the helper and the namespace's init with it. When
// stdin ends (the server closed the run, or died), every command is killed and the program exits.
// Kept as text, like sandbox-runner.ts, so that it works the same from the built server and the sources.
export const sandboxDispatcher = (applySeccomp: string) => `
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { constants } from "node:os";
const HELPER = ${JSON.stringify(applySeccomp)};
const running = new Map();
let paused = [];
const send = (message) => {
  if (process.stdout.write(JSON.stringify(message) + "\\n")) return true;
  return false;
};
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
    child = spawn(HELPER, ["bash", "-c", command], { cwd, env: process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
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
  child.on("close", (code, signal) => {
    running.delete(id);
    // The namespace is gone with its init; the group may hold nothing more, but make sure.
    kill(child);
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
  if (request.stop) {
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
