// Attacks through a routine's `repositories:` list: a repository writer names another repository
// of the installation to reach its contents (or to write to it). A repository takes part in
// another's runs only when its own routines.yml shares itself with that repository, and only
// read-only unless it shares write access. Driven through the built server; asserted on the
// tokens the fake GitHub issued (with their repositories and permissions), the pushes it received,
// the check runs and what the model saw.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText } from "../support/fake-model.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const APP = "acme/app";
const SECRET = "acme/secret-repo";
const LIB = "acme/lib";
const TOOLS = "acme/tools";
const INSTALLATION = 61;
// Made at run time, so that nothing on the machine holds them unless a run put it there.
const secretMarker = `secret-${randomBytes(12).toString("hex")}`;
const libMarker = `lib-${randomBytes(12).toString("hex")}`;

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(INSTALLATION, "acme");
  await world.github.addRepository(APP, INSTALLATION, {
    "README.md": "# app\n",
    ".claude/routines.yml": routinesYml({
      "reach-secret": {
        prompt: "Look at the other repository. [reach-secret]",
        repositories: ["self", SECRET],
        triggers: [{ github: { event: "pull_request", actions: ["opened"], filters: { head_branch: "secret/*" } } }],
      },
      "use-lib": {
        prompt: "Look at the library. [use-lib]",
        repositories: ["self", LIB],
        triggers: [{ github: { event: "pull_request", actions: ["opened"], filters: { head_branch: "lib/*" } } }],
      },
      "use-tools": {
        prompt: "Update the tools. [use-tools]",
        repositories: ["self", TOOLS],
        triggers: [{ github: { event: "pull_request", actions: ["opened"], filters: { head_branch: "tools/*" } } }],
      },
    }),
  });
  // Has routines of its own, and shares itself with nobody.
  await world.github.addRepository(SECRET, INSTALLATION, {
    "SECRET.txt": `${secretMarker}\n`,
    ".claude/routines.yml": routinesYml({ chores: { prompt: "Tidy up." } }),
  });
  // Shares itself with acme/app, read-only.
  await world.github.addRepository(LIB, INSTALLATION, {
    "LIB.txt": `${libMarker}\n`,
    ".claude/routines.yml": JSON.stringify({ version: 1, share_with: [APP] }),
  });
  // Shares itself with acme/app for writing.
  await world.github.addRepository(TOOLS, INSTALLATION, {
    "NOTES.md": "# Notes\n",
    ".claude/routines.yml": JSON.stringify({ version: 1, share_with: [{ repository: APP, access: "write" }] }),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** Every token issued for a repository, as the fake GitHub recorded it. */
const tokensFor = (repository: string) => [...world.github.tokens.values()].filter((token) => token.repositories?.includes(repository));
const everythingTheModelSaw = (marker: string) => world.model.sessionRequests(marker).map((request) => JSON.stringify(request.body)).join("\n");

async function openPullRequest(branch: string, title: string) {
  await world.github.commit(APP, branch, { "notes.txt": `${branch}\n` });
  const pull = await world.github.openPullRequest(APP, { head: branch, title, user: "alice" });
  await server.deliver("pull_request", await pullRequestEvent(world.github, APP, pull.number, "opened"));
  const sha = await world.github.sha(APP, `refs/heads/${branch}`);
  return eventually(() => world.github.checkRuns.find((check) => check.head_sha === sha && check.status === "completed"), { what: `the run on ${branch} to end` });
}

describe("a routine's other repositories", () => {
  it("are refused when they do not share themselves: no token for them, nothing of them reaches the model", async () => {
    world.model.session("[reach-secret]", [call("shell", { command: "cat .routines/repos/acme/secret-repo/SECRET.txt; find / -name SECRET.txt 2>/dev/null" }), outcome("Looked.")]);
    const check = await openPullRequest("secret/1", "Change [secret-case]");

    expect.soft(tokensFor(SECRET)).toEqual([]);
    expect.soft(world.github.requests.filter((request) => request.path.startsWith(`/${SECRET}.git`) || (request.path.startsWith(`/repos/${SECRET}/`) && !decodeURIComponent(request.path).endsWith("/contents/.claude/routines.yml")))).toEqual([]);
    expect.soft(world.model.sessionRequests("[reach-secret]")).toEqual([]);
    expect.soft(check.conclusion).toBe("failure");
    // Both sides learn what to write.
    expect.soft(check.output?.title).toContain(`${SECRET} does not share itself with ${APP}`);
    expect.soft(check.output?.summary).toContain(`"share_with: [${APP}]"`);
    expect(everythingTheModelSaw("[reach-secret]")).not.toContain(secretMarker);
    expect(server.output()).not.toContain(secretMarker);
  });

  it("that share themselves read-only are checked out under the working tree, readable, and never written to", async () => {
    world.model.session("[use-lib]", [
      call("view", { path: ".routines/repos/acme/lib/LIB.txt" }),
      call("shell", { command: "cat .routines/repos/acme/lib/LIB.txt && git status --short" }),
      call("create_file", { path: ".routines/repos/acme/lib/EVIL.txt", content: "written by a run\n" }),
      call("push_branch", { repository: LIB, branch: "claude/evil", commit_message: "evil" }),
      call("shell", { command: "cd .routines/repos/acme/lib && git add -A && git -c user.name=x -c user.email=x@x commit -qm evil && git push origin HEAD:main 2>&1 | tail -1" }),
      outcome("Read it."),
    ]);
    const pushesBefore = world.github.pushes.length;
    const check = await openPullRequest("lib/1", "Change [lib-case]");
    expect(check.conclusion).toBe("success");

    const requests = world.model.sessionRequests("[use-lib]");
    // The prompt names the checkout and says it is read-only.
    expect.soft(firstUserText(requests[0]!.body)).toMatch(/acme\/lib.*\.routines\/repos\/acme\/lib.*read-only/);
    const seen = requests.map((request) => JSON.stringify(request.body.messages)).join("\n");
    // Readable with the file tools and the shell, and not part of the own repository's changes.
    expect.soft(seen.split(libMarker).length - 1).toBeGreaterThanOrEqual(2);
    expect.soft(seen).not.toMatch(/\?\? \.routines/);
    // The tool that pushes refuses it by name; a push from the shell has no credentials (nor, here, the network).
    expect.soft(seen).toContain("acme/lib is read-only in this run");

    // Every token that could reach acme/lib is read-only, and none of them reaches the own repository's writes.
    const libTokens = tokensFor(LIB);
    expect(libTokens.length).toBeGreaterThan(0);
    expect.soft(libTokens.map((token) => token.permissions.contents)).toEqual(libTokens.map(() => "read"));
    expect.soft(libTokens.map((token) => token.repositories)).toEqual(libTokens.map(() => [LIB]));
    expect.soft(world.github.pushes.slice(pushesBefore).filter((push) => push.repository === LIB)).toEqual([]);
    expect.soft(await world.github.file(LIB, "refs/heads/main", "EVIL.txt")).toBeUndefined();
    expect.soft(await world.github.file(LIB, "refs/heads/claude/evil", "EVIL.txt")).toBeUndefined();
  });

  it("that share themselves for writing get claude/ branches pushed with a token of their own", async () => {
    world.model.session("[use-tools]", [
      call("create_file", { path: ".routines/repos/acme/tools/NOTES.md", content: "# Notes, updated\n" }),
      call("push_branch", { repository: TOOLS, branch: "claude/notes", commit_message: "Update the notes" }),
      outcome("Updated."),
    ]);
    const pushesBefore = world.github.pushes.length;
    const check = await openPullRequest("tools/1", "Change [tools-case]");
    expect(check.conclusion).toBe("success");
    expect(await world.github.file(TOOLS, "refs/heads/claude/notes", "NOTES.md")).toBe("# Notes, updated\n");
    const pushes = world.github.pushes.slice(pushesBefore);
    expect(pushes.map((push) => push.repository)).toEqual([TOOLS]);
    // The push went with the token of the write scope, which reaches acme/tools alone.
    const token = world.github.tokens.get(pushes[0]!.token)!;
    expect(token.repositories).toEqual([TOOLS]);
    expect(token.permissions.contents).toBe("write");
    // The own repository's token of that run reaches the own repository alone.
    const sessionTokens = [...world.github.tokens.values()].filter((candidate) => candidate.repositories?.includes(APP));
    expect(sessionTokens.every((candidate) => candidate.repositories!.length === 1)).toBe(true);
    expect([...world.github.tokens.values()].filter((candidate) => candidate.revoked === false && candidate.repositories)).toEqual([]);
  });
});
