// The program a stdio connector is started through, where the connector runs (in the sandbox when
// there is one): `node --input-type=module --eval "$(CONNECTOR_ENTRY)" <command> <args…>`.
// Everything that starts it (the guard, the limits, srt's runner, bubblewrap) runs with the
// starting environment alone (see startingEnvironment in launch.ts); the connector's own
// environment comes as the first line on stdin, {"env":{…},"base":{…}}, so that NODE_OPTIONS,
// LD_PRELOAD or BASH_ENV in it act only on the connector. What the sandbox adds to this program's
// environment (srt's proxies, TMPDIR) is added to the connector's, as the dispatcher does for
// commands (sandbox-dispatcher.ts). The line is read a byte at a time, so that nothing of what
// follows (the MCP client's messages) is taken from the connector, which gets stdin, stdout and
// stderr as they are. Kept as text, like sandbox-runner.ts, so that it works the same from the
// built server and the sources.
export const CONNECTOR_ENTRY = `
import { spawn } from "node:child_process";
import { readSync } from "node:fs";
import { constants } from "node:os";
const fail = (why, code = 126) => {
  process.stderr.write("routines: the connector could not start: " + why + "\\n");
  process.exit(code);
};
const one = Buffer.alloc(1);
const bytes = [];
for (;;) {
  let read;
  try {
    read = readSync(0, one, 0, 1, null);
  } catch (error) {
    if (error.code !== "EAGAIN") fail(error.message);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    continue;
  }
  if (read === 0) fail("its environment did not arrive");
  if (one[0] === 10) break;
  bytes.push(one[0]);
}
let handed;
try {
  handed = JSON.parse(Buffer.from(bytes).toString("utf8"));
} catch (error) {
  fail("its environment could not be read: " + error.message);
}
const { env, base } = handed;
const SHELL_OWN = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
const added = Object.entries(process.env).filter(([name, value]) => base[name] !== value && !SHELL_OWN.has(name));
const [command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { env: { ...env, ...Object.fromEntries(added) }, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("error", (error) => fail(error.message, 127));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
`;
