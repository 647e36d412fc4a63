import { mkdir, mkdtemp, readFile, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shareGrants } from "../../src/config/share-with.js";
import type { Share } from "../../src/config/schema.js";
import { otherRepositories, prepareCheckouts, RepositoryAccessError } from "../../src/session/other-repositories.js";
import type { RepositoryId } from "../../src/run-request.js";

const app = { owner: "acme", repo: "app" };

/** Repositories' share_with lists by name; a name absent has no routines file. */
function files(shares: Record<string, Share[]>) {
  const asked: string[] = [];
  const lookup = async ({ owner, repo }: RepositoryId) => {
    asked.push(`${owner}/${repo}`);
    const found = shares[`${owner}/${repo}`];
    return found && shareGrants(found);
  };
  return { asked, lookup };
}

describe("otherRepositories", () => {
  it("is nothing for a routine of its own repository alone", async () => {
    const { asked, lookup } = files({});
    expect(await otherRepositories(undefined, app, lookup)).toEqual([]);
    expect(await otherRepositories(["self", "acme/app", "ACME/App"], app, lookup)).toEqual([]);
    expect(asked).toEqual([]);
  });

  it("gives each repository what it shares, once, in the order written, at its place in the working tree", async () => {
    const { asked, lookup } = files({ "acme/docs": ["acme/app"], "acme/site": [{ repository: "acme/*", access: "write" }] });
    expect(await otherRepositories(["acme/docs", "self", "acme/site", "Acme/Docs"], app, lookup)).toEqual([
      { repository: { owner: "acme", repo: "docs" }, access: "read", path: ".routines/repos/acme/docs" },
      { repository: { owner: "acme", repo: "site" }, access: "write", path: ".routines/repos/acme/site" },
    ]);
    expect(asked).toEqual(["acme/docs", "acme/site"]);
  });

  it("refuses, all at once, repositories that do not share themselves with this one and those of another account", async () => {
    const { lookup } = files({ "acme/docs": ["acme/other"], "acme/site": [], "acme/ok": ["acme/app"] });
    const refusal = otherRepositories(["acme/docs", "acme/site", "acme/none", "globex/lib", "acme/ok"], app, lookup);
    await expect(refusal).rejects.toThrow(RepositoryAccessError);
    const message = await refusal.catch((error: Error) => error.message);
    for (const name of ["acme/docs", "acme/site", "acme/none"]) expect(message).toContain(`${name} does not share itself with acme/app`);
    expect(message).toContain("acme/none does not share itself with acme/app (the app finds no .claude/routines.yml there, or is not installed on it)");
    expect(message).not.toContain("acme/docs does not share itself with acme/app (");
    expect(message).toContain("globex/lib is not acme's");
    expect(message).not.toContain("acme/ok");
  });
});

describe("prepareCheckouts", () => {
  const docs = [{ repository: { owner: "acme", repo: "docs" }, access: "read" as const, path: ".routines/repos/acme/docs" }];

  it("makes the owners' directories and leaves them out of the own repository's git status", async () => {
    const root = await mkdtemp(join(tmpdir(), "routines-others-"));
    await mkdir(join(root, ".git", "info"), { recursive: true });
    await prepareCheckouts(root, docs);
    expect(existsSync(join(root, ".routines/repos/acme"))).toBe(true);
    expect(existsSync(join(root, ".routines/repos/acme/docs"))).toBe(false);
    expect(await readFile(join(root, ".git/info/exclude"), "utf8")).toContain("\n/.routines/\n");
  });

  it("does nothing without other repositories", async () => {
    const root = await mkdtemp(join(tmpdir(), "routines-others-"));
    await prepareCheckouts(root, []);
    expect(existsSync(join(root, ".routines"))).toBe(false);
  });

  it("refuses a working tree that has its own .routines, a link out of it above all", async () => {
    const outside = await mkdtemp(join(tmpdir(), "routines-outside-"));
    const root = await mkdtemp(join(tmpdir(), "routines-others-"));
    await symlink(outside, join(root, ".routines"));
    await expect(prepareCheckouts(root, docs)).rejects.toThrow(/has its own \.routines/);
    expect(existsSync(join(outside, "repos"))).toBe(false);
  });
});
