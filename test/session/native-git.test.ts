import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { git, GitCommandError, gitAnswers, gitEnvironment } from "../../src/session/native-git.js";

describe("gitEnvironment", () => {
  it("carries the token only as a header for the repository's own host, and no helper or prompt", () => {
    const env = gitEnvironment({ url: "https://github.example.com:8443/acme/app.git", token: "ghs_secret" });
    expect(env.GIT_TERMINAL_PROMPT).toBe("0");
    expect(env.GIT_CONFIG_COUNT).toBe("2");
    expect([env.GIT_CONFIG_KEY_0, env.GIT_CONFIG_VALUE_0]).toEqual(["credential.helper", ""]);
    expect(env.GIT_CONFIG_KEY_1).toBe("http.https://github.example.com:8443/.extraHeader");
    expect(env.GIT_CONFIG_VALUE_1).toBe(`Authorization: Basic ${Buffer.from("x-access-token:ghs_secret").toString("base64")}`);
    // Nothing of the server's own secrets rides along.
    process.env.ROUTINES_TEST_SECRET = "x";
    expect(gitEnvironment().ROUTINES_TEST_SECRET).toBeUndefined();
    delete process.env.ROUTINES_TEST_SECRET;
  });

  it("is what git sees: the header applies to the repository's host and not to another", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "routines-git-"));
    await git(["init", "-q"], { cwd });
    const auth = { url: "https://github.example.com/acme/app.git", token: "ghs_secret" };
    expect((await git(["config", "--get-urlmatch", "http.extraHeader", "https://github.example.com/acme/app.git"], { cwd, auth })).trim()).toMatch(/^Authorization: Basic /);
    await expect(git(["config", "--get-urlmatch", "http.extraHeader", "https://elsewhere.example.com/acme/app.git"], { cwd, auth })).rejects.toBeInstanceOf(GitCommandError);
  });
});

describe("git", () => {
  it("rejects with git's own words, and answers yes-or-no questions", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "routines-git-"));
    await expect(git(["rev-parse", "HEAD"], { cwd })).rejects.toThrow(/git rev-parse failed \(exit 128\): fatal: not a git repository/);
    await git(["init", "-q"], { cwd });
    expect(await gitAnswers(["config", "--get", "core.bare"], { cwd })).toBe(true);
    expect(await gitAnswers(["config", "--get", "no.such"], { cwd })).toBe(false);
  });
});
