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
export const unsandboxed: Launcher = (command) => ({ file: "bash", args: ["--norc", "-c", command] });

/**
 * The environment of what starts a command or connector (the guard, the limits, the sandbox's
 * runner), given the run's `env`: the server's PATH, and of the run's what srt reads: HOME, and
 * JAVA_TOOL_OPTIONS, which it extends with its proxy's settings. The rest of the run's (where
 * NODE_OPTIONS, LD_PRELOAD or BASH_ENV can be) is handed over inside, so that it acts only there.
 */
export function startingEnvironment(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  for (const name of ["HOME", "JAVA_TOOL_OPTIONS"]) if (env[name] !== undefined) base[name] = env[name];
  return base;
}

// The bash that guards or limits a command runs nothing of the run's: no startup file (with a
// socket for stdin, as a connector has, bash reads ~/.bashrc, and HOME is the run's, which its
// commands write), and in privileged mode no BASH_ENV, functions or shell options from the
// environment either. (bash takes its long options first.)
const OWN_BASH = ["bash", "--norc", "-p", "-c"];

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
  return { file: setpriv, args: ["--pdeathsig", "TERM", "--", ...OWN_BASH, GUARD, "routines-guard", String(serverPid), launch.file, ...launch.args] };
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

/** What a command takes on before it starts (see run-limits.ts). */
export interface ResourceLimits {
  /** cgroup.procs files of the run's control groups, which the command joins. */
  cgroupProcs: readonly string[];
  /** Per-process limits, as bash's ulimit options and values (e.g. ["-f", "1024"]): hard and soft, so the command cannot raise them. */
  ulimit: readonly string[];
}

// Joins the run's control groups, then takes the limits, then becomes the command: everything the
// command starts is born inside. A group that cannot be joined stops the command, never runs it unconfined.
const LIMITED = `[ "$1" = 0 ] || ulimit -HS "\${@:2:$1}" || exit 126
shift "$(($1 + 1))"
while [ "$1" != -- ]; do
  echo $$ 2>/dev/null > "$1" || { echo "routines: the command could not join its run's control group" >&2; exit 126; }
  shift
done
shift
exec "$@"`;

/** The launch, started inside the run's control groups and with its per-process limits. */
export function withinLimits(launch: Launch, limits: ResourceLimits): Launch {
  if (limits.cgroupProcs.length === 0 && limits.ulimit.length === 0) return launch;
  return { file: OWN_BASH[0]!, args: [...OWN_BASH.slice(1), LIMITED, "routines-limits", String(limits.ulimit.length), ...limits.ulimit, ...limits.cgroupProcs, "--", launch.file, ...launch.args] };
}
