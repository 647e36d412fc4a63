import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refNameProblem, Workspaces } from "../../src/session/workspace.js";
import { createServedRepository, run, startGitServer, type GitServer } from "../support/git-server.js";

const TOKEN = "ghs_workspace_token_123";
/** The built module, for a second process. */
const WORKSPACE_MODULE = fileURLToPath(new URL("../../dist/session/workspace.js", import.meta.url));
let server: GitServer;
let work: string;

beforeAll(async () => {
  server = await startGitServer(TOKEN);
  // Enough content that a full download stands out from an incremental one.
  const filler = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`docs/page-${i}.md`, `# Page ${i}\n${"lorem ipsum ".repeat(200 + i)}\n`]));
  work = await createServedRepository(server, "acme", "app", { "README.md": "# App\n", "src/app.ts": "export const a = 1;\n", ...filler });
  // A pull request: a branch with one more commit, published as refs/pull/1/head like GitHub does.
  await run(work, "checkout", "-q", "-b", "feature");
  await writeFile(join(work, "src/app.ts"), "export const a = 2;\n");
  await run(work, "commit", "-q", "-am", "Change a");
  const bare = join(server.root, "acme", "app.git");
  await run(work, "push", "-q", bare, "feature:refs/pull/1/head");
});
afterAll(() => server.close());

describe("Workspaces", () => {
  it("checks out the default branch over smart HTTP, keeping the token out of the tree", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const workspace = await workspaces.checkout(spec, TOKEN);
    expect(await readFile(join(workspace.dir, "src/app.ts"), "utf8")).toBe("export const a = 1;\n");
    expect(await run(workspace.dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
    expect(await run(workspace.dir, "remote", "get-url", "origin")).toBe(`${server.url}/acme/app.git`);
    expect(await run(workspace.dir, "symbolic-ref", "refs/remotes/origin/HEAD")).toBe("refs/remotes/origin/main");
    expect(await run(workspace.dir, "grep", "-rl", TOKEN, "--", ".").catch(() => "")).toBe("");
    expect(await readFile(join(workspace.dir, ".git/config"), "utf8")).not.toContain(TOKEN);
    await workspace.remove();
    expect(existsSync(workspace.dir)).toBe(false);
  });

  it("removes the cache an earlier version kept for the repository when it makes its own", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-cache-"));
    await mkdir(join(cacheDir, "acme", "app.git", "objects"), { recursive: true });
    const workspace = await new Workspaces(cacheDir).checkout({ repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" }, TOKEN);
    expect(existsSync(join(cacheDir, "acme", "app.git"))).toBe(false);
    expect(existsSync(join(cacheDir, "acme", "app.tree", ".git", "HEAD"))).toBe(true);
    await workspace.remove();
  });

  it("checks out at a given directory, made there, and refuses one that exists", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const parent = await mkdtemp(join(tmpdir(), "routines-at-"));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main", at: join(parent, "app") };
    const workspace = await workspaces.checkout(spec, TOKEN);
    expect(workspace.dir).toBe(join(await realpath(parent), "app"));
    expect(await readFile(join(parent, "app", "src/app.ts"), "utf8")).toBe("export const a = 1;\n");
    await expect(workspaces.checkout(spec, TOKEN)).rejects.toThrow(/EEXIST/);
    await workspace.remove();
    expect(existsSync(join(parent, "app"))).toBe(false);
    expect(existsSync(parent)).toBe(true);
  });

  it("checks out a pull request's head with its base fetched, so the agent can diff", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const headSha = await run(work, "rev-parse", "feature");
    const workspace = await workspaces.checkout(
      { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main", pullRequest: { number: 1, headSha, baseRef: "main" } },
      TOKEN,
    );
    expect(workspace.head).toBe(headSha);
    expect(await run(workspace.dir, "rev-parse", "HEAD")).toBe(headSha);
    expect(await run(workspace.dir, "diff", "--stat", "origin/main...HEAD")).toContain("src/app.ts | 2 +-");
    await workspace.remove();
  });

  it("fetches only what changed on a second run", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const packBytes = (since: number) =>
      server.requests.slice(since).filter((request) => request.method === "POST" && request.path.endsWith("git-upload-pack")).reduce((sum, request) => sum + request.bytes, 0);
    let before = server.requests.length;
    await (await workspaces.checkout(spec, TOKEN)).remove();
    const first = packBytes(before);
    // The second fetch tells the server what the cache has, and gets next to nothing.
    before = server.requests.length;
    const second = await workspaces.checkout(spec, TOKEN);
    expect(packBytes(before)).toBeLessThan(first / 5);
    expect(await readFile(join(second.dir, "README.md"), "utf8")).toBe("# App\n");
    await second.remove();
  });

  it("fails clearly with a wrong token, a missing branch, or a moved pull request", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    await expect(workspaces.checkout(spec, "wrong")).rejects.toThrow();
    await expect(workspaces.checkout({ ...spec, defaultBranch: "trunk" }, TOKEN)).rejects.toThrow();
    await expect(workspaces.checkout({ ...spec, defaultBranch: "--upload-pack=evil" }, TOKEN)).rejects.toThrow('refusing the branch name "--upload-pack=evil"');
    await expect(workspaces.checkout({ ...spec, pullRequest: { number: 1, headSha: "0".repeat(40), baseRef: "main" } }, TOKEN)).rejects.toThrow(/pull request #1 moved on/);
  });
});

describe("runs of one repository at once", () => {
  it("each get a working tree of their own commit, checked out at the same time", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const headSha = await run(work, "rev-parse", "feature");
    const [onMain, onPull, again] = await Promise.all([
      workspaces.checkout(spec, TOKEN),
      workspaces.checkout({ ...spec, pullRequest: { number: 1, headSha, baseRef: "main" } }, TOKEN),
      workspaces.checkout(spec, TOKEN),
    ]);
    expect(await readFile(join(onMain.dir, "src/app.ts"), "utf8")).toBe("export const a = 1;\n");
    expect(await readFile(join(onPull.dir, "src/app.ts"), "utf8")).toBe("export const a = 2;\n");
    expect(await readFile(join(again.dir, "src/app.ts"), "utf8")).toBe("export const a = 1;\n");
    expect(new Set([onMain.dir, onPull.dir, again.dir]).size).toBe(3);
    for (const workspace of [onMain, onPull, again]) expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
    await Promise.all([onMain, onPull, again].map((workspace) => workspace.remove()));
  });

  it("take turns on the cache when they are in two processes (two workers sharing a data directory)", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-cache-"));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const headSha = await run(work, "rev-parse", "feature");
    // The other process checks out the pull request's head, again and again, from the same cache.
    const script = `
      import { readFile } from "node:fs/promises";
      import { Workspaces } from ${JSON.stringify(WORKSPACE_MODULE)};
      const workspaces = new Workspaces(${JSON.stringify(cacheDir)});
      for (let i = 0; i < 4; i++) {
        const workspace = await workspaces.checkout({ ...${JSON.stringify(spec)}, pullRequest: { number: 1, headSha: ${JSON.stringify(headSha)}, baseRef: "main" } }, ${JSON.stringify(TOKEN)});
        process.stdout.write(await readFile(workspace.dir + "/src/app.ts", "utf8"));
        await workspace.remove();
      }
      await workspaces.idle();
    `;
    const other = promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    const workspaces = new Workspaces(cacheDir);
    const mine: string[] = [];
    for (let i = 0; i < 4; i++) {
      const workspace = await workspaces.checkout(spec, TOKEN);
      mine.push(await readFile(join(workspace.dir, "src/app.ts"), "utf8"));
      expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
      await workspace.remove();
    }
    await workspaces.idle();
    expect(mine).toEqual(Array(4).fill("export const a = 1;\n"));
    expect((await other).stdout).toBe("export const a = 2;\n".repeat(4));
  });

  it("share no file: a run that rewrites its repository's objects changes nothing for the next run", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-cache-"));
    const workspaces = new Workspaces(cacheDir);
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const first = await workspaces.checkout(spec, TOKEN);
    // What a run's commands can do to the files they were given, git's read-only packs included.
    const packs = join(first.dir, ".git", "objects", "pack");
    for (const name of await readdir(packs)) {
      await chmod(join(packs, name), 0o644);
      await writeFile(join(packs, name), "overwritten by a run\n");
    }
    await writeFile(join(first.dir, "src/app.ts"), "export const a = 666;\n");
    // Nothing of it reached the cache (the spare made meanwhile included).
    await workspaces.idle();
    const cached = (await readdir(cacheDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    const touched = [];
    for (const entry of cached) if ((await readFile(join(entry.parentPath, entry.name), "latin1")).includes("overwritten by a run")) touched.push(entry.name);
    expect(touched).toEqual([]);
    const second = await workspaces.checkout(spec, TOKEN);
    expect(await readFile(join(second.dir, "src/app.ts"), "utf8")).toBe("export const a = 1;\n");
    expect(await run(second.dir, "log", "-1", "--format=%s")).toBe("Initial commit");
    await run(second.dir, "fsck", "--no-dangling", "--no-progress");
    await Promise.all([first.remove(), second.remove()]);
  });
});

describe("a re-run's workspace", () => {
  it("is the spare made after the last checkout, brought to its commit with what was fetched since", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-cache-"));
    const workspaces = new Workspaces(cacheDir);
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const spare = join(cacheDir, "acme", "app.tree.spare");
    await (await workspaces.checkout(spec, TOKEN)).remove();
    await workspaces.idle();
    expect(existsSync(join(spare, ".git", "HEAD"))).toBe(true);
    const spareReadme = (await stat(join(spare, "README.md"))).ino;

    // The repository moves on after the spare was made: a new commit on a new branch, published as a pull request.
    const bare = join(server.root, "acme", "app.git");
    await run(work, "checkout", "-q", "-b", "spare-test", "main");
    await writeFile(join(work, "SPARE.md"), "after the spare\n");
    await run(work, "add", "SPARE.md");
    await run(work, "commit", "-q", "-m", "After the spare");
    const headSha = await run(work, "rev-parse", "HEAD");
    await run(work, "push", "-q", bare, "HEAD:refs/pull/7/head");

    const parent = await mkdtemp(join(tmpdir(), "routines-at-"));
    const workspace = await workspaces.checkout({ ...spec, at: join(parent, "app"), pullRequest: { number: 7, headSha, baseRef: "main" } }, TOKEN);
    // Taken over, not copied: the spare's files are the run's now (a new spare is made for the next run).
    expect((await stat(join(workspace.dir, "README.md"))).ino).toBe(spareReadme);
    expect(workspace.dir).toBe(join(await realpath(parent), "app"));
    expect(await readFile(join(workspace.dir, "SPARE.md"), "utf8")).toBe("after the spare\n");
    expect(await run(workspace.dir, "rev-parse", "HEAD")).toBe(headSha);
    expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
    expect(await run(workspace.dir, "diff", "--stat", "origin/main...HEAD")).toContain("SPARE.md");
    expect(await run(workspace.dir, "for-each-ref", "--format=%(refname)")).toBe("refs/remotes/origin/HEAD\nrefs/remotes/origin/main");
    await run(workspace.dir, "fsck", "--no-dangling", "--no-progress");
    await workspaces.idle();
    expect(existsSync(join(spare, ".git", "HEAD"))).toBe(true);
    await workspace.remove();
  });
});

describe("a release run's workspace", () => {
  it("is the release's tag, detached, with the default branch known and only what the cache lacks fetched", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    const spec = { repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" };
    const bare = join(server.root, "acme", "app.git");
    // Tags on the pull request's commit, which main does not have: one annotated, one lightweight.
    await run(work, "tag", "-a", "-m", "Version 2", "v2.0", "feature");
    await run(work, "tag", "v2.0-light", "feature");
    await run(work, "push", "-q", bare, "refs/tags/v2.0", "refs/tags/v2.0-light");
    const tagged = await run(work, "rev-parse", "feature");
    const main = await run(work, "rev-parse", "main");

    let before = server.requests.length;
    const packBytes = (since: number) =>
      server.requests.slice(since).filter((request) => request.method === "POST" && request.path.endsWith("git-upload-pack")).reduce((sum, request) => sum + request.bytes, 0);
    await (await workspaces.checkout(spec, TOKEN)).remove();
    const cold = packBytes(before);
    for (const tag of ["v2.0", "v2.0-light"]) {
      before = server.requests.length;
      const workspace = await workspaces.checkout({ ...spec, tag }, TOKEN);
      // The cache offers its default branch: only the tag's own commit comes over the wire.
      expect(packBytes(before)).toBeLessThan(cold / 5);
      expect(workspace.head).toBe(tagged);
      expect(await run(workspace.dir, "rev-parse", "HEAD")).toBe(tagged);
      expect(await run(workspace.dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("HEAD");
      expect(await readFile(join(workspace.dir, "src/app.ts"), "utf8")).toBe("export const a = 2;\n");
      expect(await run(workspace.dir, "rev-parse", "origin/main")).toBe(main);
      expect(await run(workspace.dir, "rev-parse", `${tag}^{commit}`)).toBe(tagged);
      expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
      await workspace.remove();
    }
    await expect(workspaces.checkout({ ...spec, tag: "v9.9" }, TOKEN)).rejects.toThrow("acme/app has no tag v9.9");
    await expect(workspaces.checkout({ ...spec, tag: "v1 --evil" }, TOKEN)).rejects.toThrow('refusing the tag name "v1 --evil": it contains a space');
  });
});

describe("a workflow or deployment run's workspace", () => {
  const spec = () => ({ repository: { owner: "acme", repo: "app" }, url: `${server.url}/acme/app.git`, defaultBranch: "main" });
  let first = "";
  let second = "";

  beforeAll(async () => {
    // A branch with two deploys on it, and a tag on the newer one.
    const bare = join(server.root, "acme", "app.git");
    await run(work, "checkout", "-q", "-b", "release-line", "main");
    await writeFile(join(work, "DEPLOYED.txt"), "first deploy\n");
    await run(work, "add", "DEPLOYED.txt");
    await run(work, "commit", "-q", "-m", "First deploy");
    first = await run(work, "rev-parse", "HEAD");
    await writeFile(join(work, "DEPLOYED.txt"), "second deploy\n");
    await run(work, "commit", "-q", "-am", "Second deploy");
    second = await run(work, "rev-parse", "HEAD");
    await run(work, "tag", "-a", "-m", "Deployed", "deployed-2", "HEAD");
    await run(work, "push", "-q", bare, "release-line", "refs/tags/deployed-2");
  });

  it("is the named commit, detached, when it is in the history of its branch or tag, not that ref's newest", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    for (const [sha, ref, content] of [[first, "release-line", "first deploy\n"], [second, "release-line", "second deploy\n"], [first, "deployed-2", "first deploy\n"]] as const) {
      const workspace = await workspaces.checkout({ ...spec(), commit: { sha, ref } }, TOKEN);
      expect(workspace.head).toBe(sha);
      expect(await run(workspace.dir, "rev-parse", "HEAD")).toBe(sha);
      expect(await run(workspace.dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("HEAD");
      expect(await readFile(join(workspace.dir, "DEPLOYED.txt"), "utf8")).toBe(content);
      expect(await run(workspace.dir, "status", "--porcelain")).toBe("");
      await workspace.remove();
    }
    // Without a ref, or with a commit for a ref, the default branch is the history it must be in.
    const onMain = await run(work, "rev-parse", "main");
    const workspace = await workspaces.checkout({ ...spec(), commit: { sha: onMain, ref: onMain } }, TOKEN);
    expect(workspace.head).toBe(onMain);
    await workspace.remove();
  });

  it("refuses a commit outside the named ref's history, even one an earlier run left in the cache", async () => {
    const workspaces = new Workspaces(await mkdtemp(join(tmpdir(), "routines-cache-")));
    // A pull request run fetches the pull request's head (a fork's, say) into the repository's cache.
    const forkHead = await run(work, "rev-parse", "feature");
    await (await workspaces.checkout({ ...spec(), pullRequest: { number: 1, headSha: forkHead, baseRef: "main" } }, TOKEN)).remove();
    // A deployment (or workflow run) naming that commit on main must not get it checked out.
    await expect(workspaces.checkout({ ...spec(), commit: { sha: forkHead, ref: "main" } }, TOKEN)).rejects.toThrow(
      new RegExp(`^commit ${forkHead} is not on main of acme/app \\(its tip is [0-9a-f]{40}\\): only the repository's own history is checked out$`),
    );
    await expect(workspaces.checkout({ ...spec(), commit: { sha: forkHead } }, TOKEN)).rejects.toThrow(`commit ${forkHead} is not on the default branch main of acme/app`);
    await expect(workspaces.checkout({ ...spec(), commit: { sha: "1".repeat(40), ref: "main" } }, TOKEN)).rejects.toThrow(`commit ${"1".repeat(40)} is not on main of acme/app`);
    await expect(workspaces.checkout({ ...spec(), commit: { sha: first, ref: "gone" } }, TOKEN)).rejects.toThrow("acme/app has no branch or tag gone");
    await expect(workspaces.checkout({ ...spec(), commit: { sha: first, ref: "--upload-pack=evil" } }, TOKEN)).rejects.toThrow('refusing the ref name "--upload-pack=evil"');
    await expect(workspaces.checkout({ ...spec(), commit: { sha: "HEAD", ref: "main" } }, TOKEN)).rejects.toThrow('refusing "HEAD": not a commit\'s full sha');
  });
});

describe("refNameProblem", () => {
  // Names git takes and refuses, checked against `git check-ref-format` itself.
  const names = [
    ...["main", "claude/fix-1", "claude/fix+1", "claude/a@b", "claude/issue#12", "claude/ünïcödé", "claude/日本語", "a.lock.b", "x/HEAD", "a/@/b", "v1.2.3", "a_b", "a=b", "a'b", 'a"b', "a{b}", "a!b"],
    ...["", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a\tb", "a\x7fb", "a\x01b", "a..b", "a@{b", "/a", "a/", "a//b", "a.", "a/b.", ".a", "a/.b", "a.lock", "a/b.lock/c", "@{-1}"],
  ];

  it.each(names)("%j as git check-ref-format has it", async (name) => {
    const native = await run(tmpdir(), "check-ref-format", `refs/heads/${name}`).then(
      () => undefined,
      () => "refused",
    );
    expect(refNameProblem(name) === undefined).toBe(native === undefined);
  });

  it("refuses what git refuses as a branch beyond the format, and says why", () => {
    expect(refNameProblem("-x")).toBe("it begins with -");
    expect(refNameProblem("--upload-pack=evil")).toBe("it begins with -");
    expect(refNameProblem("HEAD")).toBe("HEAD alone is not a branch name");
    expect(refNameProblem("@")).toBe("@ alone is not a branch name");
    expect(refNameProblem("a\tb")).toBe("it contains the control character U+0009");
    expect(refNameProblem("a/.b")).toBe('its part ".b" begins with .');
    expect(refNameProblem("a..b")).toBe("it contains ..");
  });
});
