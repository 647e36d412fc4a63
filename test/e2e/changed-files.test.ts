// Paths filters through the built server: a pull request fires the routines whose paths its
// changed files match, read from the fake GitHub's list of the pull request's files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/handbook";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(51, "acme");
  await world.github.addRepository(REPO, 51, {
    "docs/guide.md": "# Guide\n",
    "src/app.js": "export const answer = 42;\n",
    ".claude/routines.yml": routinesYml({
      docs: { prompt: "E2E-DOCS: check the docs.", triggers: [{ github: { event: "pull_request", paths: ["docs/**"] } }] },
      code: { prompt: "E2E-CODE: review the code.", triggers: [{ github: { event: "pull_request", paths_ignore: ["docs/**", "**/*.md"] } }] },
    }),
  });
  world.model.session("E2E-DOCS", [outcome("Docs checked.")]);
  world.model.session("E2E-CODE", [outcome("Code reviewed.")]);
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** The routines whose sessions a pull request started: the marker's prompt names the pull request. */
const routinesFor = (title: string) =>
  ["E2E-DOCS", "E2E-CODE"].filter((marker) => world.model.sessionRequests(marker).some((request) => JSON.stringify(request.body.messages[0]).includes(title)));

describe("paths filters, as deployed", () => {
  it("fires each routine for the pull requests whose changed files its paths select", async () => {
    const { github } = world;
    await github.commit(REPO, "docs-only", { "docs/guide.md": "# Guide\n\nMore.\n" });
    await github.commit(REPO, "code-only", { "src/app.js": "export const answer = 43;\n" });
    const docs = await github.openPullRequest(REPO, { head: "docs-only", title: "Docs change", user: "alice" });
    const code = await github.openPullRequest(REPO, { head: "code-only", title: "Code change", user: "alice" });
    for (const pull of [docs, code]) await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));

    await eventually(() => routinesFor("Docs change").length > 0 && routinesFor("Code change").length > 0, { what: "a session for each pull request" });
    // Long enough for a wrong run to have started too.
    await sleep(2_000);
    expect(routinesFor("Docs change")).toEqual(["E2E-DOCS"]);
    expect(routinesFor("Code change")).toEqual(["E2E-CODE"]);
    // The changed files came from GitHub's list of the pull request's files.
    expect(github.find("GET", `/repos/${REPO}/pulls/${docs.number}/files`).length).toBeGreaterThanOrEqual(1);
  });
});
