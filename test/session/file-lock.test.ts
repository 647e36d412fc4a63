import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { withFileLock } from "../../src/session/file-lock.js";

describe("withFileLock", () => {
  it("lets one holder in at a time, in the order they came, and removes the file after", async () => {
    const lock = join(await mkdtemp(join(tmpdir(), "routines-lock-")), "repo.lock");
    const events: string[] = [];
    const hold = (name: string) =>
      withFileLock(lock, async () => {
        events.push(`${name} in`);
        expect(await readFile(lock, "utf8")).toBe(`${process.pid}\n`);
        await sleep(20);
        events.push(`${name} out`);
        return name;
      });
    expect(await Promise.all([hold("a"), hold("b"), hold("c")])).toEqual(["a", "b", "c"]);
    expect(events).toEqual(["a in", "a out", "b in", "b out", "c in", "c out"]);
    expect(existsSync(lock)).toBe(false);
  });

  it("releases the lock when the work fails", async () => {
    const lock = join(await mkdtemp(join(tmpdir(), "routines-lock-")), "repo.lock");
    await expect(withFileLock(lock, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await withFileLock(lock, async () => "next")).toBe("next");
  });

  it("waits for a lock another process holds, and takes over one whose process ended", async () => {
    const lock = join(await mkdtemp(join(tmpdir(), "routines-lock-")), "repo.lock");
    // Another process holds it for a while.
    const other = spawn("sleep", ["30"]);
    await writeFile(lock, `${other.pid}\n`);
    let entered = false;
    const waiting = withFileLock(lock, async () => (entered = true));
    await sleep(300);
    expect(entered).toBe(false);
    other.kill();
    await new Promise((resolve) => other.once("exit", resolve));
    // Its process ended without removing the file: the lock is taken over.
    await waiting;
    expect(entered).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });
});
