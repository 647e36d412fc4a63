// How a command line is started (plain, or in the sandbox: see sandbox.ts), and how it is tied to
// the server's life: every process a command starts must end when the server dies, also when the
// server is killed with SIGKILL and cannot clean up. Whoever spawns a command passes its launch
// through `tieToServer` (run-command.ts, connectors.ts).
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** How a command is started: the program and its arguments. */
export interface Launch {
  file: string;
  args: string[];
}

export type Launcher = (command: string) => Launch;

/** Plain bash: for hosts that cannot sandbox, when the operator allows it, and for local tools and tests. */
export const unsandboxed: Launcher = (command) => ({ file: "bash", args: ["-c", command] });

// The guard between the server and a command. setpriv arms the parent-death signal (SIGTERM when
// the server's thread that spawned it ends) and execs this bash, which runs the command as its
// child. On SIGTERM it kills every process of its session (a session leader: runCommand spawns
// detached, connectors go through setsid), which also catches processes that left the process
// group, such as `timeout`'s, then the group. A server that died before the signal was armed left
// the guard with another parent: it runs nothing. Sandboxed commands need nothing more: bwrap's
// --die-with-parent and its PID namespace end the sandbox's processes when bwrap dies.
// While sweeping it ignores further SIGTERMs (the signal was seen to come more than once as the
// server's threads exit) and writes nothing: bash reports killed jobs on stderr, a pipe to the dead server, and
// SIGPIPE would end the sweep half done. Zombies are skipped; processes forked meanwhile are
// found by the next pass.
const GUARD = `[ "$PPID" = "$1" ] || exit 125
shift
sweep() {
  trap '' TERM PIPE
  exec </dev/null >/dev/null 2>&1
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    found=
    for stat in /proc/[0-9]*/stat; do
      pid=\${stat#/proc/}; pid=\${pid%/stat}
      [ "$pid" = "$$" ] && continue
      read -r fields < "$stat" || continue
      set -- \${fields##*) }
      [ "$1" != Z ] && [ "$4" = "$$" ] && kill -KILL "$pid" && found=1
    done
    [ -n "$found" ] || break
  done
  kill -KILL -- -$$
}
trap sweep TERM
"$@" <&0 &
wait $!`;

const found = new Map<string, string | undefined>();

/** The absolute path of a program on the server's PATH, or undefined. */
function which(program: string): string | undefined {
  if (!found.has(program)) {
    const dirs = (process.env.PATH ?? "/usr/bin:/bin").split(delimiter).filter(Boolean);
    found.set(
      program,
      dirs.map((dir) => join(dir, program)).find((path) => {
        try {
          accessSync(path, constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
    );
  }
  return found.get(program);
}

/**
 * The launch, guarded so that the command dies with `serverPid` (the process that spawns it). Needs
 * Linux and util-linux's setpriv; without them the command runs unguarded.
 */
export function tieToServer(launch: Launch, serverPid = process.pid): Launch {
  const setpriv = process.platform === "linux" ? which("setpriv") : undefined;
  if (!setpriv) return launch;
  return { file: setpriv, args: ["--pdeathsig", "TERM", "--", "bash", "-c", GUARD, "routines-guard", String(serverPid), launch.file, ...launch.args] };
}

/**
 * The launch in a session of its own, for spawners that cannot start it detached (the MCP SDK's
 * stdio transport), so the guard can stop everything it started. Never for a detached spawn:
 * setsid forks when it already leads a group, and the guard would then refuse to run.
 */
export function inOwnSession(launch: Launch): Launch {
  const setsid = which("setsid");
  return setsid ? { file: setsid, args: [launch.file, ...launch.args] } : launch;
}
