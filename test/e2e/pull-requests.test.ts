// Pull request runs through the built server: webhooks signed and POSTed over HTTP, GitHub and the
// model as fakes over HTTP; assertions on what reached them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/shop";
const APP_JS = Array.from({ length: 40 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join("\n") + "\n";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(REPO, 7, {
    "src/app.js": APP_JS,
    ".claude/routines.yml": routinesYml({
      review: {
        prompt: "E2E-REVIEW: review this pull request.",
        triggers: [{ github: { event: "pull_request", actions: ["opened", "synchronize"] } }],
      },
    }),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

describe("a pull request, as deployed", () => {
  it("gets one review with inline comments on its diff lines, posted with the run's own token, which is revoked", async () => {
    const { github, model } = world;
    await github.commit(REPO, "feature/discount", { "src/app.js": APP_JS.replace("value3 = 3", "value3 = 4") }, { message: "Change value3" });
    const pull = await github.openPullRequest(REPO, { head: "feature/discount", title: "Discount rule", user: "alice" });
    model.session("E2E-REVIEW", [
      call("create_review", { body: "One problem.", comments: [{ path: "src/app.js", line: 3, body: "This should stay 3." }] }),
      outcome("Reviewed: one problem."),
    ]);

    const delivery = `pr-opened-${pull.number}`;
    const answer = await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"), { id: delivery });
    expect(answer.status).toBeLessThan(300);

    const check = await eventually(() => github.checkRuns.find((c) => c.name === "routines/review" && c.status === "completed"), { what: "the completed check run" });
    expect(check.conclusion).toBe("success");
    expect(github.reviews).toHaveLength(1);
    const [review] = github.reviews;
    expect(review!.comments).toMatchObject([{ path: "src/app.js", line: 3, side: "RIGHT" }]);
    expect(review!.commit_id).toBe(await github.sha(REPO, "refs/heads/feature/discount"));

    // The review went out with a token minted for this run alone, limited to the repository, and revoked at the end.
    const posted = github.find("POST", `/repos/${REPO}/pulls/${pull.number}/reviews`)[0]!;
    expect(posted.auth.kind).toBe("installation");
    const token = (posted.auth as { token: string }).token;
    expect(github.tokens.get(token)).toMatchObject({ repositories: [REPO], revoked: true });
    expect(github.tokens.get(token)!.permissions).not.toHaveProperty("checks");

    // The model saw the pull request and was never given the token.
    const sent = JSON.stringify(model.sessionRequests("E2E-REVIEW"));
    expect(sent).toContain("Discount rule");
    expect(sent).not.toContain(token);

    // A redelivery of the same webhook starts nothing new.
    const before = model.requests.length;
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"), { id: delivery });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(model.requests.length).toBe(before);
    expect(github.checkRuns.filter((c) => c.name === "routines/review")).toHaveLength(1);
  });
});
