import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commitWorkingTree } from "../../src/session/native-commit.js";

const AUTHOR = { name: "Routine", email: "routine@example.com" };

let base: string;
let dir: string;
const git = async (cwd: string, ...args: string[]) =>
  (await promisify(execFile)("git", args, { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } })).stdout.trim();

beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), "routines-native-commit-")));
  dir = join(base, "tree");
  await mkdir(join(dir, "src"), { recursive: true });
  await writeFile(join(dir, "src", "a.ts"), "export const a = 1;\n");
  await writeFile(join(dir, "src", "b.ts"), "export const b = 1;\n");
  await writeFile(join(dir, ".gitignore"), "*.log\n");
  await git(dir, "init", "-q", "-b", "main");
  await git(dir, "add", "-A");
  await git(dir, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "Start");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("commitWorkingTree", () => {
  it("commits additions, changes and removals on the branch, leaving the index clean for the run's own git", async () => {
    const start = await git(dir, "rev-parse", "HEAD");
    expect(await commitWorkingTree(dir, AUTHOR, "Nothing")).toBeUndefined();
    await writeFile(join(dir, "src", "a.ts"), "export const a = 2;\n");
    await rm(join(dir, "src", "b.ts"));
    await writeFile(join(dir, "src", "c.ts"), "export const c = 3;\n");
    await writeFile(join(dir, "debug.log"), "ignored\n");
    const commit = await commitWorkingTree(dir, AUTHOR, "Change a, drop b, add c");
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(await git(dir, "rev-parse", "HEAD", "refs/heads/main")).toBe(`${commit}\n${commit}`);
    expect(await git(dir, "log", "-1", "--format=%an <%ae> %cn|%P|%s")).toBe(`Routine <routine@example.com> Routine|${start}|Change a, drop b, add c`);
    expect(await git(dir, "show", "--name-status", "--format=", "HEAD")).toBe("M\tsrc/a.ts\nD\tsrc/b.ts\nA\tsrc/c.ts");
    expect(await git(dir, "status", "--porcelain", "--ignored")).toBe("!! debug.log");
    await git(dir, "fsck", "--strict", "--no-dangling");
    // A detached HEAD moves itself.
    await git(dir, "checkout", "-q", "--detach");
    await writeFile(join(dir, "src", "a.ts"), "export const a = 3;\n");
    const detached = await commitWorkingTree(dir, AUTHOR, "Detached");
    expect(await git(dir, "rev-parse", "HEAD")).toBe(detached);
    expect(await git(dir, "rev-parse", "refs/heads/main")).toBe(commit);
  });

  it("runs nothing the working tree's .git asks for, reads no object through a link or alternates, and writes nothing through a link", async () => {
    const marks = join(base, "marks");
    await mkdir(marks);
    const evil = join(base, "evil.sh");
    // Leaves a mark; as a filter (no arguments), passes the file through.
    await writeFile(evil, `#!/bin/sh\necho "$0 $*" >> ${join(marks, "ran")}\n[ -n "$1" ] || cat\n`);
    await chmod(evil, 0o755);
    const gitdir = join(dir, ".git");
    // Another repository's objects, outside the tree: by alternates, and by a link planted as an object.
    const other = join(base, "other");
    await mkdir(other);
    await git(other, "init", "-q");
    const secret = `secret-${Date.now()}`;
    await writeFile(join(other, "secret.txt"), `${secret}\n`);
    const blob = await git(other, "hash-object", "-w", "secret.txt");
    await writeFile(join(gitdir, "objects", "info", "alternates"), `${join(other, ".git", "objects")}\n`);
    await symlink(join(other, ".git", "objects", blob.slice(0, 2), blob.slice(2)), join(gitdir, "objects", blob.slice(0, 2), blob.slice(2))).catch(async () => {
      await mkdir(join(gitdir, "objects", blob.slice(0, 2)));
      await symlink(join(other, ".git", "objects", blob.slice(0, 2), blob.slice(2)), join(gitdir, "objects", blob.slice(0, 2), blob.slice(2)));
    });
    // The index names the other repository's object for a file git is told not to look at, as the run's git can through alternates.
    await git(dir, "update-index", "--add", "--cacheinfo", `100644,${blob},leak.txt`);
    await git(dir, "update-index", "--skip-worktree", "leak.txt");
    await writeFile(join(dir, "src", "a.ts"), "export const a = 2;\n");
    // Last, so the test's own git commands above run none of it.
    // Hooks where git looks for them, and where the config says they are.
    await mkdir(join(base, "hooks"));
    for (const hook of ["pre-commit", "commit-msg", "post-commit", "post-index-change", "reference-transaction", "pre-auto-gc", "post-rewrite"]) {
      for (const where of [join(gitdir, "hooks", hook), join(base, "hooks", hook)]) {
        await writeFile(where, `#!/bin/sh\necho ${hook} >> ${join(marks, "ran")}\n`);
        await chmod(where, 0o755);
      }
    }
    for (const [key, value] of [
      ["core.hooksPath", join(base, "hooks")],
      ["core.fsmonitor", evil],
      ["filter.evil.clean", evil],
      ["filter.evil.required", "true"],
      ["commit.gpgSign", "true"],
      ["gpg.program", evil],
      ["core.untrackedCache", "true"],
      ["index.version", "4"],
    ] as const) {
      await git(dir, "config", key, value);
    }
    await writeFile(join(dir, ".gitattributes"), "* filter=evil\n");
    const first = await commitWorkingTree(dir, AUTHOR, "Change a").catch((error: unknown) => error);
    // A file outside the tree that a link in .git offers as the index, for the next commit to write.
    const outside = join(base, "outside-index");
    await writeFile(outside, "untouched\n");
    await rm(join(gitdir, "index"));
    await symlink(outside, join(gitdir, "index"));
    await writeFile(join(dir, "src", "a.ts"), "export const a = 3;\n");
    const second = await commitWorkingTree(dir, AUTHOR, "Change a again").catch((error: unknown) => error);

    expect(await readFile(join(marks, "ran"), "utf8").catch(() => "nothing ran")).toBe("nothing ran");
    expect(await readFile(outside, "utf8")).toBe("untouched\n");
    // The first commit could not be made: the index names an object the run's repository does not have.
    expect(first).toBeInstanceOf(Error);
    expect(String(first)).not.toContain(secret);
    // The other repository's object is nowhere in the run's repository.
    await rm(join(gitdir, "objects", "info", "alternates"));
    await rm(join(gitdir, "objects", blob.slice(0, 2), blob.slice(2)));
    expect(await git(dir, "cat-file", "-e", blob).then(() => "present", () => "absent")).toBe("absent");
    // Without the index (a link is never read), git looked at every file, and the commit is the working tree.
    expect(second).toMatch(/^[0-9a-f]{40}$/);
    expect(await git(dir, "show", "--name-status", "--format=", "HEAD")).toBe("A\t.gitattributes\nM\tsrc/a.ts");
  });
});
