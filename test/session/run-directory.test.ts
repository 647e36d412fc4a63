import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRunDirectory, MAX_SOCKET_DIR, sweepRunDirectories } from "../../src/session/run-directory.js";

/** The id of a process that has ended. */
async function endedPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("a run's directory", () => {
  it("holds HOME, TMPDIR and the sandbox's files, only the server's user may enter it, and is removed whole", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "routines-runs-")));
    const run = await createRunDirectory(root);
    expect(run.path).toMatch(new RegExp(`^${root}/routines-run-${process.pid}-\\w+$`));
    expect([run.home, run.tmp, run.sandbox]).toEqual(["home", "tmp", "sandbox"].map((name) => join(run.path, name)));
    for (const dir of [run.path, run.home, run.tmp, run.sandbox]) expect((await stat(dir)).mode & 0o777).toBe(0o700);

    // Go's module cache leaves read-only directories behind.
    await mkdir(join(run.home, "go/pkg/mod/example.com@v1"), { recursive: true });
    await writeFile(join(run.home, "go/pkg/mod/example.com@v1/go.mod"), "module example.com\n");
    await chmod(join(run.home, "go/pkg/mod/example.com@v1"), 0o555);
    await run.remove();
    expect(await readdir(root)).toEqual([]);
  });

  it("keeps the sandbox's sockets at a path short enough for a socket, also when it is deep", async () => {
    const shallow = await createRunDirectory(await realpath(await mkdtemp(join(tmpdir(), "r-"))));
    expect(shallow.sockets).toBe(join(shallow.sandbox, "srt"));
    const deepRoot = await realpath(await mkdtemp(join(tmpdir(), `routines-runs-${"deep".repeat(10)}-`)));
    const deep = await createRunDirectory(deepRoot);
    expect(deep.sockets).toMatch(new RegExp(`^/tmp/routines-srt-${process.pid}-\\w+$`));
    expect(deep.sockets.length).toBeLessThanOrEqual(MAX_SOCKET_DIR);
    for (const dir of [shallow.sockets, deep.sockets]) expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await Promise.all([shallow.remove(), deep.remove()]);
    await expect(stat(deep.sockets)).rejects.toThrow("ENOENT");
    expect(await readdir(deepRoot)).toEqual([]);
  });

  it("is swept at start when its server is gone, and kept while it runs", async () => {
    const root = await mkdtemp(join(tmpdir(), "routines-runs-"));
    const running = spawn("sleep", ["30"]);
    try {
      const names = {
        ended: `routines-run-${await endedPid()}-aaaaaa`,
        running: `routines-run-${running.pid}-bbbbbb`,
        // Left by an earlier server with this process's id (a container's first process always has the same).
        sameId: `routines-run-${process.pid}-cccccc`,
        other: "routines-cache-dddddd",
      };
      for (const name of Object.values(names)) await mkdir(join(root, name, "tmp"), { recursive: true });
      await chmod(join(root, names.ended, "tmp"), 0o500);

      // Socket directories of runs too deep for them, in /tmp.
      const sockets = { ended: `/tmp/routines-srt-${await endedPid()}-eeeeee`, running: `/tmp/routines-srt-${running.pid}-ffffff` };
      for (const dir of Object.values(sockets)) await mkdir(dir, { recursive: true });
      expect((await sweepRunDirectories(root)).sort()).toEqual([names.ended, names.sameId].sort());
      await expect(stat(sockets.ended)).rejects.toThrow("ENOENT");
      expect((await stat(sockets.running)).isDirectory()).toBe(true);
      await rm(sockets.running, { recursive: true });
      expect((await readdir(root)).sort()).toEqual([names.other, names.running].sort());
      expect(await sweepRunDirectories(join(root, "missing"))).toEqual([]);
    } finally {
      running.kill();
    }
  });
});
