import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { restampIndex } from "../../src/session/index-stamps.js";

const git = async (cwd: string, ...args: string[]) => (await promisify(execFile)("git", args, { cwd })).stdout;

async function copiedRepository(): Promise<{ original: string; copy: string }> {
  const original = await mkdtemp(join(tmpdir(), "routines-stamps-"));
  await git(original, "init", "-q", "-b", "main");
  for (let i = 0; i < 20; i++) await writeFile(join(original, `file-${i}.txt`), `content ${i}\n`);
  await writeFile(join(original, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  await git(original, "add", "-A");
  await git(original, "-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "one");
  const copy = join(await mkdtemp(join(tmpdir(), "routines-stamps-")), "copy");
  // Contents, modes and modification times kept; inodes and change times new.
  await promisify(execFile)("cp", ["-a", original, copy]);
  return { original, copy };
}

/** Entries whose stat data git finds stale, without refreshing (it would then rehash them). */
const stale = async (dir: string) => (await git(dir, "diff-files", "--name-only")).split("\n").filter(Boolean);

describe("restampIndex", () => {
  it("gives a copied tree's index the copy's stat data, so git trusts it without reading the files", async () => {
    const { copy } = await copiedRepository();
    expect((await stale(copy)).length).toBeGreaterThan(0);
    expect(await restampIndex(copy)).toBe(true);
    expect(await stale(copy)).toEqual([]);
    expect(await git(copy, "status", "--porcelain")).toBe("");
    // The index is still one git reads whole: its checksum verifies.
    await git(copy, "fsck", "--no-dangling", "--no-progress");
  });

  it("leaves entries whose file differs for git to look at", async () => {
    const { copy } = await copiedRepository();
    // Changed after the copy: a new modification time (a different size too), so not stamped.
    await writeFile(join(copy, "file-3.txt"), "changed after the copy\n");
    await restampIndex(copy);
    expect(await stale(copy)).toEqual(["file-3.txt"]);
    expect(await git(copy, "status", "--porcelain")).toBe(" M file-3.txt\n");
  });

  it("does not read an index of a version it does not know", async () => {
    const { copy } = await copiedRepository();
    await git(copy, "update-index", "--index-version", "4");
    const before = await readFile(join(copy, ".git", "index"));
    expect(await restampIndex(copy)).toBe(false);
    expect(await readFile(join(copy, ".git", "index"))).toEqual(before);
  });
});
