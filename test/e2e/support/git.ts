// Native git for the fakes and the tests: real repositories, made and read the way GitHub's own
// storage would hold them.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec("git", args, {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH, HOME: cwd, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "Dev", GIT_AUTHOR_EMAIL: "dev@example.com", GIT_COMMITTER_NAME: "Dev", GIT_COMMITTER_EMAIL: "dev@example.com" },
  });
  return stdout;
}

/** A bare repository at `bare` whose `main` holds `files` in one commit. */
export async function createBareRepository(bare: string, files: Record<string, string | Buffer>): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "routines-e2e-work-"));
  await git(work, "init", "-q", "-b", "main");
  await writeFiles(work, files);
  await git(work, "add", "-A");
  await git(work, "commit", "-q", "-m", "Initial commit");
  await mkdir(dirname(bare), { recursive: true });
  await git(dirname(bare), "clone", "-q", "--bare", work, bare);
  await git(bare, "config", "http.receivepack", "true");
}

async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Commits `files` on top of `from` as `branch` in the bare repository; returns the new commit. */
export async function commitTo(bare: string, branch: string, from: string, files: Record<string, string | Buffer>, message = "Change"): Promise<string> {
  const start = await revParse(bare, from);
  if (!start) throw new Error(`${bare} has no ${from}`);
  const work = await mkdtemp(join(tmpdir(), "routines-e2e-work-"));
  await git(work, "clone", "-q", "--no-checkout", bare, ".");
  await git(work, "checkout", "-q", "-B", branch, start);
  await writeFiles(work, files);
  await git(work, "add", "-A");
  await git(work, "commit", "-q", "-m", message);
  await git(work, "push", "-q", "origin", `HEAD:refs/heads/${branch}`);
  return (await git(work, "rev-parse", "HEAD")).trim();
}

export async function revParse(bare: string, ref: string): Promise<string | undefined> {
  try {
    return (await git(bare, "rev-parse", "--verify", "--quiet", ref)).trim() || undefined;
  } catch {
    return undefined;
  }
}
