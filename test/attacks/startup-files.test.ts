// A routine's environment sets HOME to its working tree, whose `.bashrc` the repository writes.
// bash reads ~/.bashrc, not BASH_ENV, when its stdin is a socket, as it is for the bash that guards
// the run's sandbox and keeps it in its limits: that bash runs on the host, before the sandbox, so
// it must read no startup file of the run's. The file writes a marker into a host directory outside
// the run, where nothing may appear. Driven through the built server; asserted on that directory
// and on what the model saw.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/dotfiles";
const MARK = `escaped-${randomBytes(8).toString("hex")}`;
const SAID = `said-${randomBytes(8).toString("hex")}`;

let world: World;
let server: ServerProcess;
let escapes: string;

beforeAll(async () => {
  escapes = await mkdtemp(join(tmpdir(), "routines-escapes-"));
  world = await startWorld();
  world.github.addInstallation(43, "acme");
  await world.github.addRepository(REPO, 43, {
    "README.md": "# dotfiles\n",
    ".bashrc": `{ echo "${MARK} bash: $0 $1" > "${escapes}/bashrc-$$"; } 2>/dev/null\n`,
    ".claude/routines.yml": routinesYml(
      { review: { prompt: "Review this pull request.", environment: "home", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } },
      { environments: { home: { network: "none", env: { HOME: "." } } } },
    ),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
  if (escapes) await rm(escapes, { recursive: true, force: true });
});

describe("the run's HOME", () => {
  it("holds no startup file that runs outside the sandbox", async () => {
    const { github, model } = world;
    await github.commit(REPO, "change", { "README.md": "# dotfiles, changed\n" });
    const pull = await github.openPullRequest(REPO, { head: "change", title: "Change [dotfiles-case]", user: "alice" });
    model.session("[dotfiles-case]", [call("shell", { command: `echo ${SAID}` }), outcome("Reviewed.")]);
    const revoked = github.find("DELETE", "/installation/token").length;
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened", { sender: "alice" }));
    await eventually(() => github.find("DELETE", "/installation/token").length > revoked, { what: "the run to end" });

    const written = await Promise.all((await readdir(escapes)).map(async (name) => `${name}: ${(await readFile(join(escapes, name), "utf8")).trim().slice(0, 200)}`));
    expect.soft(written).toEqual([]);
    // The command ran in the sandbox all the same.
    expect(JSON.stringify(model.sessionRequests("[dotfiles-case]")[1]?.body.messages)).toContain(SAID);
  });
});
