import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Workspaces } from "../../src/session/workspace.js";
import { createServedRepository, run, startGitServer, type GitServer } from "../support/git-server.js";

const TOKEN = "ghs_workspace_token_123";
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
    expect(await run(workspace.dir, "grep", "-rl", TOKEN, "--", ".").catch(() => "")).toBe("");
    expect(await readFile(join(workspace.dir, ".git/config"), "utf8")).not.toContain(TOKEN);
    await workspace.remove();
    expect(existsSync(workspace.dir)).toBe(false);
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
