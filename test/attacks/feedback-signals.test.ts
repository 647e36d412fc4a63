// Attacks on the feedback metric: a routine's findings are read back from GitHub by their hidden
// mark, which anyone who can comment can copy. A person's comment carrying a copied mark, resolved
// and liked by its author, must not count as a finding of the routine, nor as one addressed.
// Driven through the built server; asserted on what the dashboard shows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { pullRequestEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/metric";
const CALC = ["// calc", 'export const name = "calc";', "export const limit = 3;", "export function add(a, b) {", "  return a + b;", "}", "export function sub(a, b) {", "  return a - b;", "}", ""];
const withLines = (changes: Record<number, string>) => CALC.map((line, i) => changes[i + 1] ?? line).join("\n");
/** A copy of the mark the routine would put on a finding at src/calc.js line 8. */
const COPIED_MARK = "<!-- routines:0123456789abcdef routine:review at:src%2Fcalc.js:RIGHT:8-8 -->";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(23, "acme");
  await world.github.addRepository(REPO, 23, {
    "src/calc.js": withLines({}),
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
  });
  world.github.permissions.set(`${REPO}:alice`, "write");
  world.github.signedInUser = "alice";
  server = await world.startServer({ extra: { GITHUB_CLIENT_ID: "Iv1.e2e", GITHUB_CLIENT_SECRET: "e2e-client-secret" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

async function signIn(): Promise<Browser> {
  const browser = new Browser(server.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  expect((await browser.fetch(`${callback.pathname}${callback.search}`)).status).toBe(303);
  return browser;
}

describe("the feedback metric and copied marks", () => {
  it("attack: a person's comment carrying a routine's finding mark, resolved, liked and changed, is not counted", async () => {
    const { github, model } = world;
    const marker = "[metric-copied-mark]";
    await github.commit(REPO, "feature", { "src/calc.js": withLines({ 3: "export const limit = 30;", 8: "  return b - a;" }) });
    const pull = await github.openPullRequest(REPO, { head: "feature", title: `Tune calc ${marker}`, user: "mallory" });
    const head1 = await github.sha(REPO, "refs/heads/feature");
    model.session(marker, [call("create_review", { body: "One problem.", comments: [{ path: "src/calc.js", line: 3, body: "`limit` went from 3 to 30: is that intended?" }] }), outcome("One problem.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    await eventually(() => github.checkRuns.some((check) => check.head_sha === head1 && check.status === "completed"), { what: "the review" });

    // The author writes a "finding" of their own with a copied mark, likes it, resolves its thread, and changes its line.
    const copy = await github.addReviewComment(REPO, pull.number, { path: "src/calc.js", line: 8, body: `\`sub\` swaps its operands.\n\n${COPIED_MARK}`, user: "mallory" });
    github.reactions.push({ repository: REPO, commentId: copy, content: "+1", user: "mallory" });
    github.resolvedThreads.add(copy);
    const head2 = await github.pushToPullRequest(REPO, pull.number, { "src/calc.js": withLines({ 3: "export const limit = 30;" }) });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    await eventually(() => github.find("GET", `/repos/${REPO}/compare/${head1}...${head2}`).length > 0, { what: "the compare after the push" });
    const repository = github.repositoryJson(github.repository(REPO));
    await server.deliver("pull_request_review_thread", {
      action: "resolved",
      thread: { node_id: `PRRT_${copy}`, comments: [{ id: copy, body: COPIED_MARK, user: github.userJson("mallory") }] },
      pull_request: (await pullRequestEvent(github, REPO, pull.number, "synchronize")).pull_request,
      repository,
      installation: { id: 23 },
      sender: github.userJson("mallory"),
    });
    const merged = await pullRequestEvent(github, REPO, pull.number, "closed");
    merged.pull_request = { ...merged.pull_request, state: "closed", merged: true, merged_at: new Date().toISOString() };
    await server.deliver("pull_request", merged);

    const browser = await signIn();
    const page = await eventually(async () => {
      const text = await (await browser.fetch("/dashboard/findings")).text();
      return /addressed \(/.test(text) && text;
    }, { what: "the findings page to count the merged pull request" });
    // Only the routine's own finding: not addressed, no reaction.
    expect(page).toMatch(/<td>0 of 1 addressed \(0 %\)<\/td>\s*<td>1<\/td><td>0<\/td><td>0<\/td><td>0<\/td><td>1<\/td>/);
  });
});
