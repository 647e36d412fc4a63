import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startingEnvironment, tieToServer, unsandboxed, withinLimits } from "../../src/session/launch.js";

describe("the bash that guards and limits a command", () => {
  it("reads no startup file of the run's: neither BASH_ENV nor HOME's .bashrc, with a socket for stdin or not", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "routines-launch-")));
    const log = join(dir, "log");
    await writeFile(join(dir, "env.sh"), `echo "BASH_ENV $0" >> ${JSON.stringify(log)}\n`);
    await writeFile(join(dir, ".bashrc"), `echo ".bashrc $0" >> ${JSON.stringify(log)}\n`);
    const { file, args } = tieToServer(withinLimits(unsandboxed(`echo "command $0" >> ${JSON.stringify(log)}`), { cgroupProcs: [], ulimit: ["-f", "1024"] }));
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, BASH_ENV: join(dir, "env.sh") };
    // A pipe, which node makes a socket: bash takes it for a remote shell and reads ~/.bashrc.
    for (const stdin of ["pipe", "ignore"] as const) expect(spawnSync(file, args, { env, cwd: dir, stdio: [stdin, "ignore", "ignore"] }).status).toBe(0);
    // The command's own bash is the run's, BASH_ENV included; the guard ($0 routines-guard) and the limits (routines-limits) read nothing.
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual(["BASH_ENV bash", "command bash", "BASH_ENV bash", "command bash"]);
  });
});

describe("startingEnvironment", () => {
  it("keeps the server's PATH and, of the run's, only what the sandbox reads", () => {
    const run = { PATH: "./bin", HOME: "/run/home", JAVA_TOOL_OPTIONS: "-Dx=1", NODE_OPTIONS: "--require ./x.cjs", LD_PRELOAD: "x.so", BASH_ENV: "x.sh", SECRET: "s" };
    expect(startingEnvironment(run)).toEqual({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/run/home", JAVA_TOOL_OPTIONS: "-Dx=1" });
  });
});
