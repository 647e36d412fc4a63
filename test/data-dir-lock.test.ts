import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { lockDataDir } from "../src/data-dir-lock.js";

const run = promisify(execFile);
// The built module (npm test builds first), as the server loads it.
const MODULE = new URL("../dist/data-dir-lock.js", import.meta.url).pathname;

/** Tries the lock from another process, as a second server would. */
async function lockElsewhere(dataDir: string): Promise<string> {
  const script = `import { lockDataDir } from ${JSON.stringify(MODULE)}; try { lockDataDir(${JSON.stringify(dataDir)}); console.log("taken"); } catch (error) { console.log(error.name + ": " + error.message); }`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", script]);
  return stdout.trim();
}

describe("lockDataDir", () => {
  it("refuses the directory to another process while this one holds it, naming this one, and gives it up on release", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "routines-lock-")), "data");
    const lock = lockDataDir(dataDir);
    expect(await lockElsewhere(dataDir)).toBe(
      `DataDirInUseError: DATA_DIR ${dataDir} is in use by another routines server (pid ${process.pid}): stop it, or give this one a DATA_DIR of its own; several processes share work through PostgreSQL (DATABASE_URL)`,
    );
    lock.release();
    expect(await lockElsewhere(dataDir)).toBe("taken");
    lockDataDir(dataDir).release();
  });
});
