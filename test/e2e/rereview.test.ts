// Re-reviews through the built server: a routine that reviewed a pull request before sees only
// what changed since, settles its threads the new commits addressed (GraphQL), cannot post a
// finding again that is still there, even reworded, and reviews the whole pull request again after
// a force-push; its status comment stays one comment, edited by each run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText, type RecordedRequest } from "../support/fake-model.js";
import { pullRequestEvent } from "./support/payloads.js";
import { eventually, type ServerProcess } from "./support/server-process.js";
import { call, isStatusComment, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/rereview";
const MARKER = "[rereview-case]";
const CALC = ["// calc", 'export const name = "calc";', "export const limit = 3;", "export function add(a, b) {", "  return a + b;", "}", "export function sub(a, b) {", "  return a - b;", "}", ""];
const withLines = (changes: Record<number, string>) => CALC.map((line, i) => changes[i + 1] ?? line).join("\n");

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(18, "acme");
  await world.github.addRepository(REPO, 18, {
    "src/calc.js": withLines({}),
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened", "synchronize"] } }] } }),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

/** What the model was sent in a session's requests after its first: the tool results it saw. */
const toolResults = (requests: RecordedRequest[]) => requests.flatMap((request) => (request.body.messages as Array<{ content: unknown }>).map((message) => JSON.stringify(message.content))).join("\n");
/** The text of the tool results in a request's last message. */
const lastToolResult = (request: RecordedRequest) =>
  ((request.body.messages as Array<{ content: Array<{ type: string; content?: string | Array<{ text?: string }> }> }>).at(-1)!.content)
    .filter((block) => block.type === "tool_result")
    .map((block) => (typeof block.content === "string" ? block.content : (block.content ?? []).map((part) => part.text ?? "").join("\n")))
    .join("\n");

describe("re-reviews, as deployed", () => {
  it("review the new diff only, resolve the fixed thread, post no finding twice even reworded, review everything after a force-push, in one status comment", async () => {
    const { github, model } = world;
    const LIMIT = "`limit` went from 3 to 30: is that intended?";
    const SUB = "`sub` swaps its operands: `b - a` is the negation of `a - b`.";

    // Push 1: two changes, two findings.
    await github.commit(REPO, "feature", { "src/calc.js": withLines({ 3: "export const limit = 30;", 8: "  return b - a;" }) });
    const pull = await github.openPullRequest(REPO, { head: "feature", title: `Tune calc ${MARKER}`, user: "alice" });
    const head1 = await github.sha(REPO, "refs/heads/feature");
    const sessions = new Map<string, RecordedRequest[]>();
    const finished = (sha: string) => github.checkRuns.some((check) => check.head_sha === sha && check.status === "completed");
    let head2 = "";
    let head3 = "";
    model.session(MARKER, (turn, _attempt, request) => {
      const prompt = firstUserText(request.body);
      const head = [head1, head2, head3].find((sha) => sha && prompt.includes(`(head commit ${sha})`))!;
      sessions.set(head, [...(sessions.get(head) ?? []), request]);
      if (head === head1) {
        const review = call("create_review", { body: "Two problems.", comments: [{ path: "src/calc.js", line: 3, body: LIMIT }, { path: "src/calc.js", line: 8, body: SUB }] });
        return [review, outcome("Two problems.")][turn]!;
      }
      if (head === head2) {
        if (turn === 0) return call("review_threads", {});
        if (turn === 1) {
          // The agent decides: the thread about sub's operands was fixed by the new commit.
          const fixed = /Thread (PRRT_\d+) [^\n]*\nYour finding: `sub` swaps/.exec(lastToolResult(request))?.[1] ?? "none";
          return call("settle_review_thread", { thread_id: fixed, action: "resolve" });
        }
        if (turn === 2) {
          // The limit finding again, reworded; and one new finding on the new code.
          return call("create_review", {
            body: "Second look.",
            comments: [
              { path: "src/calc.js", line: 3, body: "Is that intended? **`LIMIT`** went from 3 to 300." },
              { path: "src/extra.js", line: 1, body: "`extra` is exported but never used." },
            ],
          });
        }
        return outcome("One new problem; the limit question is still open.");
      }
      return outcome("Reviewed the rewritten branch: nothing new.");
    });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    await eventually(() => finished(head1), { what: "the first review" });
    const reviewsOn = () => github.reviews.filter((review) => review.repository === REPO && review.pull === pull.number && review.comments.every((c) => c.in_reply_to_id === undefined));
    expect(reviewsOn()).toHaveLength(1);
    expect(reviewsOn()[0]!.comments.map((c) => [c.line, c.body.split("\n")[0]])).toEqual([
      [3, LIMIT],
      [8, SUB],
    ]);
    const [limitThread, subThread] = reviewsOn()[0]!.comments.map((c) => c.id as number);

    // Push 2: fixes sub, adds a file.
    head2 = await github.pushToPullRequest(REPO, pull.number, { "src/calc.js": withLines({ 3: "export const limit = 30;" }), "src/extra.js": "export const extra = 1;\n" });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    await eventually(() => finished(head2), { what: "the second review" });
    const second = sessions.get(head2)!;
    const prompt2 = firstUserText(second[0]!.body);
    // Only the diff since the first review: the new file and sub's fix, not the limit change reviewed before.
    expect(prompt2).toContain(`This routine reviewed this pull request before, at commit ${head1}; 1 commit came after it.`);
    expect(prompt2).toContain(`Files changed since ${head1}`);
    expect(prompt2).toContain("+export const extra = 1;");
    expect(prompt2).toContain("+  return a - b;");
    expect(prompt2).not.toContain("+export const limit = 30;");
    // The threads it saw, with the code now; the fixed one resolved through GraphQL, with the run's token.
    const results2 = toolResults(second);
    expect(results2).toContain(`2 threads of this routine (2 open, 0 resolved), at head ${head2}`);
    expect(results2).toContain(`Resolved PRRT_${subThread} (src/calc.js).`);
    expect([...github.resolvedThreads]).toEqual([subThread]);
    const mutations = github.find("POST", "/api/graphql").filter((request) => /resolveReviewThread/.test(request.body?.query));
    expect(mutations).toHaveLength(1);
    expect(mutations[0]!.auth.kind).toBe("installation");
    // The reworded limit finding was left out, and the agent was told why; the new one was posted.
    expect(results2).toContain("Not posted, equal in substance to a finding already on the pull request (same lines, same wording):");
    expect(results2).toContain(`- src/calc.js line 3: as ${github.url}/${REPO}/pull/${pull.number}#discussion_r${limitThread}`);
    expect(reviewsOn()).toHaveLength(2);
    expect(reviewsOn()[1]!.comments.map((c) => [c.path, c.line])).toEqual([["src/extra.js", 1]]);
    expect(reviewsOn().flatMap((review) => review.comments).filter((c) => /limit/i.test(c.body))).toHaveLength(1);

    // A force-push that drops both reviewed commits: the whole pull request again.
    head3 = await github.rewritePullRequest(REPO, pull.number, { "src/calc.js": withLines({ 3: "export const limit = 30;" }), "src/other.js": "export const other = 2;\n" });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    await eventually(() => finished(head3), { what: "the review after the force-push" });
    const prompt3 = firstUserText(sessions.get(head3)![0]!.body);
    expect(prompt3).toContain(`This routine reviewed this pull request before, at commit ${head2}, but it is no longer part of the branch's history (a force-push or a rebase): review the whole pull request again.`);
    expect(prompt3).toContain("Changed files, largest changes first");
    expect(prompt3).toContain("+export const limit = 30;");
    expect(prompt3).toContain("+export const other = 2;");

    // One status comment, edited by the three runs, ending with the third's outcome.
    const statuses = github.comments.filter((c) => c.repository === REPO && c.issue === pull.number && isStatusComment(c));
    expect(statuses).toHaveLength(1);
    await eventually(() => statuses[0]!.body.includes("Reviewed the rewritten branch: nothing new."), { what: "the third run's status" });
    const edits = github.commentEdits.filter((edit) => edit.id === statuses[0]!.id).map((edit) => edit.body);
    expect(edits.some((body) => body.includes("Two problems."))).toBe(true);
    expect(edits.some((body) => body.includes("One new problem; the limit question is still open."))).toBe(true);
  });

  it("leave out what a merge of the base branch brought, reviewing only the pull request's own changes since", async () => {
    const { github, model } = world;
    const marker = "[rereview-merge]";
    await github.commit(REPO, "merging", { "src/calc.js": withLines({ 5: "  return a + b + 0;" }) });
    const pull = await github.openPullRequest(REPO, { head: "merging", title: `Add zero ${marker}`, user: "alice" });
    const head1 = await github.sha(REPO, "refs/heads/merging");
    const prompts = new Map<string, string>();
    model.session(marker, (_turn, _attempt, request) => {
      const prompt = firstUserText(request.body);
      const head = /\(head commit ([0-9a-f]{40})\)/.exec(prompt)?.[1] ?? "";
      if (!prompts.has(head)) prompts.set(head, prompt);
      return outcome("Reviewed.");
    });
    const finished = (sha: string) => github.checkRuns.some((check) => check.head_sha === sha && check.status === "completed");
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    await eventually(() => finished(head1), { what: "the first review" });

    // The base branch moves on (someone else's change), the author updates the branch with it, then changes calc again.
    await github.commit(REPO, "main", { "docs/notes.md": "# Notes\nUnrelated to this pull request.\n" });
    await github.updatePullRequestBranch(REPO, pull.number);
    const head2 = await github.pushToPullRequest(REPO, pull.number, { "src/calc.js": withLines({ 5: "  return a + b + 0;", 8: "  return a - b - 0;" }) });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    await eventually(() => finished(head2), { what: "the review after the merge" });
    const prompt = prompts.get(head2)!;
    expect(prompt).toContain(`This routine reviewed this pull request before, at commit ${head1}; 3 commits came after it.`);
    expect(prompt).toContain("+  return a - b - 0;");
    // The base's change came with the merge, but it is not the pull request's.
    expect(prompt).not.toContain("docs/notes.md");
    expect(prompt).not.toContain("Unrelated to this pull request.");
    expect(prompt).toContain("1 other file changed since then is not among this pull request's changes");
  });
});
