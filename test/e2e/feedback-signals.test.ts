// Feedback signals through the built server: a routine posts two findings; a push changes the
// lines of one; someone reacts 👍 to the other; the pull request is merged. The dashboard then
// shows the routine's findings addressed before merge from what was recorded: 1 of 2 (50 %), 1 👍,
// the app's own reaction left out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/dashboard.js";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/feedback";
const MARKER = "[feedback-case]";
const CALC = ["// calc", 'export const name = "calc";', "export const limit = 3;", "export function add(a, b) {", "  return a + b;", "}", "export function sub(a, b) {", "  return a - b;", "}", ""];
const withLines = (changes: Record<number, string>) => CALC.map((line, i) => changes[i + 1] ?? line).join("\n");

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(19, "acme");
  await world.github.addRepository(REPO, 19, {
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

/** Signs in through the fake GitHub's authorize page, as a browser following the redirects would. */
async function signIn(): Promise<Browser> {
  const browser = new Browser(server.url);
  const start = await browser.fetch("/dashboard/auth/sign-in");
  const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
  const callback = new URL(authorize.headers.get("location")!);
  expect((await browser.fetch(`${callback.pathname}${callback.search}`)).status).toBe(303);
  return browser;
}

describe("feedback signals, as deployed", () => {
  it("count a finding whose lines a push changed as addressed, and the reactions on the other, once the pull request is merged", async () => {
    const { github, model } = world;
    await github.commit(REPO, "feature", { "src/calc.js": withLines({ 3: "export const limit = 30;", 8: "  return b - a;" }) });
    const pull = await github.openPullRequest(REPO, { head: "feature", title: `Tune calc ${MARKER}`, user: "alice" });
    const head1 = await github.sha(REPO, "refs/heads/feature");
    model.session(MARKER, [
      call("create_review", {
        body: "Two problems.",
        comments: [
          { path: "src/calc.js", line: 3, body: "`limit` went from 3 to 30: is that intended?" },
          { path: "src/calc.js", line: 8, body: "`sub` swaps its operands." },
        ],
      }),
      outcome("Two problems."),
    ]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    await eventually(() => github.checkRuns.some((check) => check.head_sha === head1 && check.status === "completed"), { what: "the review" });
    const findings = github.reviews.filter((review) => review.repository === REPO && review.pull === pull.number).flatMap((review) => review.comments);
    expect(findings.map((comment) => comment.line)).toEqual([3, 8]);
    const [limit, sub] = findings.map((comment) => comment.id as number);

    const browser = await signIn();
    const findingsPage = async () => (await browser.fetch("/dashboard/findings")).text();
    expect(await findingsPage()).toContain("No routine has findings on merged pull requests");

    // A push fixes sub: the lines of that finding change.
    const head2 = await github.pushToPullRequest(REPO, pull.number, { "src/calc.js": withLines({ 3: "export const limit = 30;" }) });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    await eventually(() => github.find("GET", `/repos/${REPO}/compare/${head1}...${head2}`).length > 0, { what: "the compare after the push" });

    // Someone finds the other useful; the app's own reaction does not count.
    github.reactions.push({ repository: REPO, commentId: limit!, content: "+1", user: "alice" });
    github.reactions.push({ repository: REPO, commentId: sub!, content: "-1", user: github.botLogin });
    const merged = await pullRequestEvent(github, REPO, pull.number, "closed");
    merged.pull_request = { ...merged.pull_request, state: "closed", merged: true, merged_at: new Date().toISOString() };
    await server.deliver("pull_request", merged);

    const page = await eventually(async () => {
      const text = await findingsPage();
      return text.includes("1 of 2 addressed (50 %)") && text;
    }, { what: "the findings page to count the merged pull request" });
    expect(page).toMatch(/<td>1 of 2 addressed \(50 %\)<\/td>\s*<td>2<\/td><td>0<\/td><td>1<\/td><td>0<\/td><td>1<\/td>/);
    expect(page).toContain("How “addressed before merge” is counted");

    // On the routine's card too.
    const repository = await (await browser.fetch(`/dashboard/repos/${REPO}`)).text();
    expect(repository).toContain("<strong>1 of 2 addressed (50 %)</strong> · <span aria-label=\"1 thumbs up\">1 👍</span> · <span aria-label=\"0 thumbs down\">0 👎</span> · on 1 merged pull request");

    // Every read went through the installation's token, GraphQL included.
    const reads = github.requests.filter((request) => request.path === "/api/graphql" && /reviewThreads/.test(request.body?.query ?? "") && /originalCommit/.test(request.body?.query ?? ""));
    expect(reads).toHaveLength(2);
    expect(reads.every((request) => request.auth.kind === "installation")).toBe(true);
  });
});
