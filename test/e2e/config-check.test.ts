// The routines/config check as deployed: a pull request that changes .claude/routines.yml gets a
// check that reads, through the installation, the other repositories its routines name, and warns
// at each entry whose repository does not share itself with this one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, startWorld, type World } from "./support/world.js";

const REPO = "acme/app";

let world: World;
let server: ServerProcess | undefined;
keepDiagnostics(() => ({ world, servers: [server] }));

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(12, "acme");
  // The same account's repository that the app is not installed on.
  world.github.addInstallation(13, "acme");
  await world.github.addRepository(REPO, 12, { "README.md": "app\n", ".claude/routines.yml": "version: 1\nroutines:\n  review:\n    prompt: Review.\n" });
  await world.github.addRepository("acme/lib", 12, { ".claude/routines.yml": "version: 1\nshare_with: [acme/app]\n" });
  await world.github.addRepository("acme/docs", 12, { ".claude/routines.yml": "version: 1\nshare_with: [acme/site]\n" });
  await world.github.addRepository("acme/hidden", 13, { ".claude/routines.yml": "version: 1\nshare_with: [acme/app]\n" });
  server = await world.startServer();
});

afterAll(async () => {
  await world?.close();
});

describe("the routines/config check, as deployed", () => {
  it("warns at the line of each repositories: entry whose repository does not share itself, saying what to write there", async () => {
    const source = [
      "version: 1",
      "routines:",
      "  port:",
      "    prompt: Port the change to the library and the docs.",
      "    repositories:",
      "      - self",
      "      - acme/lib",
      "      - acme/docs",
      "      - acme/hidden",
      "",
    ].join("\n");
    const head = await world.github.commit(REPO, "port-routine", { ".claude/routines.yml": source });
    const pull = await world.github.openPullRequest(REPO, { head: "port-routine", title: "A port routine", user: "alice" });
    await server!.deliver("pull_request", await pullRequestEvent(world.github, REPO, pull.number, "opened"));

    const check = await eventually(() => world.github.checkRuns.find((c) => c.name === "routines/config" && c.head_sha === head), { what: "the config check" });
    expect(check).toMatchObject({ status: "completed", conclusion: "success", output: { title: "1 routine, 2 warnings" } });
    const [created] = world.github.find("POST", `/repos/${REPO}/check-runs`).filter((request) => request.body.name === "routines/config");
    expect(created!.body.output.annotations).toEqual([
      expect.objectContaining({
        path: ".claude/routines.yml",
        start_line: 8,
        annotation_level: "warning",
        message: expect.stringMatching(/^\.claude\/routines\.yml:8:9: warning: routines\.port\.repositories\[2\]: acme\/docs does not share itself with acme\/app: .*acme\/docs's \.claude\/routines\.yml on its default branch needs "share_with: \[acme\/app\]"/),
      }),
      expect.objectContaining({
        start_line: 9,
        annotation_level: "warning",
        message: expect.stringContaining(".claude/routines.yml:9:9: warning: routines.port.repositories[3]: acme/hidden does not share itself with acme/app (the app finds no .claude/routines.yml there, or is not installed on it)"),
      }),
    ]);
    expect(check.output?.summary).toContain("- .claude/routines.yml:8:9: warning: routines.port.repositories[2]: acme/docs does not share itself with acme/app");
    // The other repositories' files were read from their default branch with acme/app's installation
    // (the server also reads them as it starts, for schedules): acme/hidden is not on it.
    const reads = world.github.requests.filter((r) => r.method === "GET" && /^\/repos\/acme\/(lib|docs|hidden)\/contents\//.test(r.path) && r.auth.kind === "installation" && r.auth.installationId === 12);
    expect(new Set(reads.map((r) => `${r.path.split("/")[3]} ref=${r.query.get("ref")} ${r.status}`))).toEqual(new Set(["lib ref=null 200", "docs ref=null 200", "hidden ref=null 404"]));
  });
});
