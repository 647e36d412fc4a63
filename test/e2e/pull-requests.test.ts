// Pull request runs through the built server: webhooks signed and POSTed over HTTP, GitHub and the
// model as fakes over HTTP; assertions on what reached them. Each case has its own pull request,
// and the fake model tells sessions apart by a marker in the pull request's title.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultRunsRoot } from "../../src/session/run-directory.js";
import { checkRunRerequestedEvent, commentEvent, pullRequestEvent } from "./support/payloads.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { call, isStatusComment, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/shop";
const BROKEN = "acme/half-broken";
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
        prompt: "Review this pull request.",
        triggers: [{ github: { event: "pull_request", actions: ["opened", "synchronize"] } }, { command: "review" }],
      },
    }),
  });
  // A repository whose routines file has one malformed trigger (`- api` instead of `- api: {}`).
  await world.github.addRepository(BROKEN, 7, {
    "src/app.js": APP_JS,
    ".claude/routines.yml": [
      "version: 1",
      "routines:",
      "  alerts:",
      "    prompt: Triage the alert.",
      "    triggers:",
      "      - api",
      "  review:",
      "    prompt: Review this pull request.",
      "    triggers:",
      "      - github: { event: pull_request, actions: [opened] }",
      "",
    ].join("\n"),
  });
  world.github.permissions.set(`${REPO}:writer`, "write");
  world.github.permissions.set(`${REPO}:reader`, "read");
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

let changes = 0;
/** A pull request from a new branch that changes one line; its title carries the case's marker. */
async function pullRequest(marker: string) {
  const branch = `feature/${++changes}`;
  await world.github.commit(REPO, branch, { "src/app.js": APP_JS.replace(`value${changes} = ${changes};`, `value${changes} = ${changes + 100};`) });
  return world.github.openPullRequest(REPO, { head: branch, title: `Change ${changes} ${marker}`, user: "alice" });
}

const checksOf = (number: number) => async () => {
  const pull = world.github.pullRequests.get(`${REPO}#${number}`)!;
  const shas = new Set([await world.github.sha(REPO, `refs/heads/${pull.head}`)]);
  return world.github.checkRuns.filter((check) => check.name === "routines/review" && (shas.has(check.head_sha) || check.output?.summary?.includes(`#${number}`)));
};

/** The first requests of each session with this marker: one per session started. */
const sessionsOf = (marker: string) => world.model.sessionRequests(marker).filter((request) => request.body.messages.length === 1);

describe("a pull request, as deployed", () => {
  it("gets one review with inline comments on its diff lines, posted with the run's own token, which is revoked; a redelivery starts nothing", async () => {
    const { github, model } = world;
    const pull = await pullRequest("[case-review]");
    model.session("[case-review]", [
      call("create_review", { body: "One problem.", comments: [{ path: "src/app.js", line: 1, body: "This should stay 1." }] }),
      outcome("Reviewed: one problem."),
    ]);

    const delivery = `pr-opened-${pull.number}`;
    const answer = await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"), { id: delivery });
    expect(answer.status).toBeLessThan(300);

    const head = await github.sha(REPO, `refs/heads/${pull.head}`);
    const check = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the completed check run" });
    expect(check).toMatchObject({ name: "routines/review", conclusion: "success" });
    expect(check.history.map((state) => state.status)).toEqual(["queued", "in_progress", "completed"]);
    const reviews = github.reviews.filter((review) => review.pull === pull.number);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.comments).toMatchObject([{ path: "src/app.js", line: 1, side: "RIGHT" }]);
    expect(reviews[0]!.commit_id).toBe(head);

    // The review went out with a token minted for this run alone, limited to the repository, and revoked at the end.
    const posted = github.find("POST", `/repos/${REPO}/pulls/${pull.number}/reviews`)[0]!;
    expect(posted.auth.kind).toBe("installation");
    const token = (posted.auth as { token: string }).token;
    expect(github.tokens.get(token)).toMatchObject({ repositories: [REPO], revoked: true });
    expect(github.tokens.get(token)!.permissions).not.toHaveProperty("checks");

    // The model saw the pull request, streamed, and was never given the token.
    const sent = model.sessionRequests("[case-review]");
    expect(JSON.stringify(sent)).toContain("Change 1 [case-review]");
    expect(JSON.stringify(sent)).not.toContain(token);

    // A redelivery of the same webhook starts nothing new.
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"), { id: delivery });
    await sleep(1_000);
    expect(sessionsOf("[case-review]")).toHaveLength(1);
    expect(github.checkRuns.filter((c) => c.head_sha === head)).toHaveLength(1);
  });

  it("replaces a waiting run when the pull request moves on again, and runs the newest", async () => {
    const { github, model } = world;
    const pull = await pullRequest("[case-supersede]");
    // The first session takes a while, so the next pushes wait behind it.
    model.session("[case-supersede]", (turn) => (turn === 0 ? { ...outcome("Reviewed."), delayMs: 3_000 } : outcome()));
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    await eventually(() => sessionsOf("[case-supersede]").length === 1, { what: "the first session" });

    const second = await github.pushToPullRequest(REPO, pull.number, { "NOTES.md": "second\n" });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));
    const third = await github.pushToPullRequest(REPO, pull.number, { "NOTES.md": "third\n" });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "synchronize"));

    const last = await eventually(() => github.checkRuns.find((c) => c.head_sha === third && c.status === "completed"), { what: "the newest run's check" });
    expect(last.conclusion).toBe("success");
    const replaced = github.checkRuns.find((c) => c.head_sha === second)!;
    expect(replaced).toMatchObject({ status: "completed", conclusion: "cancelled" });
    expect(replaced.output?.title).toBe(`Cancelled: superseded by ${last.external_id}`);
    expect(sessionsOf("[case-supersede]")).toHaveLength(2);
  });

  it("runs /routine run <name> <instructions> for a writer, framed as untrusted text; a reader gets an answer and the app's own comments nothing", async () => {
    const { github, model } = world;
    const pull = await pullRequest("[case-command]");
    model.session("[case-command]", [outcome("Looked at the auth changes.")]);

    const fromWriter = commentEvent(github, REPO, pull.number, "/routine run review focus on the auth changes", { sender: "writer", id: 501 });
    await server.deliver("issue_comment", fromWriter);
    const [first] = await eventually(() => sessionsOf("[case-command]").length === 1 && sessionsOf("[case-command]"), { what: "the command's session" });
    // The delivery is handled from the inbox: the reaction and the reply may come after the session started.
    await eventually(() => github.reactions.some((reaction) => reaction.commentId === 501 && reaction.content === "eyes"), { what: "the 👀 reaction" });
    // The routine's status comment answers, naming the run; it carries a hidden marker, by which the next run finds it.
    const status = await eventually(() => github.comments.find((comment) => comment.issue === pull.number && isStatusComment(comment) && comment.body.includes("/routine run` from @writer")), { what: "the status comment" });
    expect(status.body).toMatch(/\[run `run_[0-9a-f]+`\]\(http:\/\/localhost:\d+\/dashboard\/runs\/run_[0-9a-f]+\)/);
    expect(status.body).toMatch(/<!-- routines:status:[0-9a-f]+ -->$/);
    const prompt = JSON.stringify(first!.body.messages[0]);
    expect(prompt).toContain("focus on the auth changes");
    expect(prompt).toMatch(/untrusted/i);

    await server.deliver("issue_comment", commentEvent(github, REPO, pull.number, "/routine run review now", { sender: "reader", id: 502 }));
    await eventually(() => github.comments.some((comment) => comment.issue === pull.number && comment.body.startsWith("@reader, only people with write access")), { what: "the answer to a reader" });
    await server.deliver("issue_comment", commentEvent(github, REPO, pull.number, "/routine run review again", { sender: github.botLogin, senderType: "Bot", id: 503 }));
    await sleep(1_000);
    expect(sessionsOf("[case-command]")).toHaveLength(1);
    expect(github.reactions.filter((reaction) => reaction.commentId === 502 || reaction.commentId === 503)).toEqual([]);
    expect(github.comments.filter((comment) => comment.issue === pull.number)).toHaveLength(2);
  });

  it("runs again on the pull request's current head when a routine's check is re-run", async () => {
    const { github, model } = world;
    const pull = await pullRequest("[case-rerun]");
    model.session("[case-rerun]", [outcome("Reviewed.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    const firstHead = await github.sha(REPO, `refs/heads/${pull.head}`);
    const first = await eventually(() => github.checkRuns.find((c) => c.head_sha === firstHead && c.status === "completed"), { what: "the first check" });

    // The pull request moves on without an event that fires the routine; then someone presses Re-run on the old check.
    const moved = await github.pushToPullRequest(REPO, pull.number, { "NOTES.md": "moved\n" });
    await server.deliver("check_run", checkRunRerequestedEvent(github, REPO, { id: first.id, name: first.name, head_sha: firstHead, external_id: first.external_id! }));
    const rerun = await eventually(() => github.checkRuns.find((c) => c.head_sha === moved && c.status === "completed"), { what: "the re-run's check" });
    expect(rerun.conclusion).toBe("success");
    expect(rerun.external_id).not.toBe(first.external_id);
    expect(sessionsOf("[case-rerun]")).toHaveLength(2);
  });

  it("keeps running the valid routines of a repository whose routines file has a malformed trigger", async () => {
    const { github, model } = world;
    await github.commit(BROKEN, "fix/typo", { "src/app.js": APP_JS.replace("value2 = 2", "value2 = 20") });
    const pull = await github.openPullRequest(BROKEN, { head: "fix/typo", title: "Typo [case-half-broken]", user: "alice" });
    model.session("[case-half-broken]", [outcome("Reviewed.")]);
    const answer = await server.deliver("pull_request", await pullRequestEvent(github, BROKEN, pull.number, "opened"));
    expect(answer.status).toBeLessThan(300);
    const head = await github.sha(BROKEN, "refs/heads/fix/typo");
    const check = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the valid routine's check" });
    expect(check).toMatchObject({ name: "routines/review", conclusion: "success" });
  });

  it("runs the repository's tests in the sandbox, with a temporary directory of the run's own, and gives their output as written", async () => {
    const { github, model } = world;
    await github.commit(REPO, "feature/tests", {
      "package.json": JSON.stringify({ name: "shop", private: true, scripts: { test: "node test.js" } }),
      "test.js": 'const fs = require("fs"), os = require("os"), path = require("path");\nconst file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "t-")), "x");\nfs.writeFileSync(file, "1");\nfor (const n of [1, 2, 3]) { console.log("ok", n); console.error("slow", n); }\nconsole.log("tests passed in", os.tmpdir());\n',
    });
    const pull = await github.openPullRequest(REPO, { head: "feature/tests", title: "Add tests [case-sandbox]", user: "alice" });
    model.session("[case-sandbox]", [call("shell", { command: 'npm test && f=$(mktemp) && echo written > "$f" && cat "$f"' }), outcome("Tests pass.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    const head = await github.sha(REPO, "refs/heads/feature/tests");
    await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the run's check" });
    const result = JSON.stringify(model.sessionRequests("[case-sandbox]")[1]!.body.messages.at(-1));
    expect(result).toContain("Exit code: 0.");
    expect(result).toContain("tests passed in");
    expect(result).toContain("written");
    // stderr and stdout reach the model as the tests wrote them.
    expect(result).toContain("ok 1\\nslow 1\\nok 2\\nslow 2\\nok 3\\nslow 3\\ntests passed in");
  });

  it("keeps runs apart: one run's commands cannot read another's temporary files or working tree", async () => {
    const { github, model } = world;
    const first = await pullRequest("[case-apart-a]");
    const second = await pullRequest("[case-apart-b]");
    // The first run leaves something private in its TMPDIR and its tree, and stays alive.
    // The text is computed by the shell, so that it appears nowhere else (not in this file, nor in
    // what the test runner caches under /tmp): only where run A wrote it.
    const secret = ["RUN-A", 6 * 7 * 11, "PRIVATE"].join("-");
    model.session("[case-apart-a]", [call("shell", { command: 'echo "RUN-A-$((6*7*11))-PRIVATE" | tee "$TMPDIR/notes" > notes.txt && sleep 60' }), outcome("Done.")]);
    // The second looks for it everywhere it could be, and posts what it found.
    const look = 'cat "$(dirname "$TMPDIR")"/../*/tmp/notes "$(dirname "$TMPDIR")"/../*/work/*/*/notes.txt; grep -rs "RUN-A-4[6]2-PRIVATE" /tmp; echo searched';
    model.session("[case-apart-b]", (turn, _attempt, request) => {
      if (turn === 0) return call("shell", { command: look });
      if (turn === 1) return call("comment", { body: JSON.stringify(request.body.messages.at(-1)) });
      return outcome("Looked.");
    });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, first.number, "opened"));
    // Run A is alive, with its files written, when run B starts looking.
    const written = async () => {
      for (const name of await readdir(defaultRunsRoot())) {
        if ((await readFile(join(defaultRunsRoot(), name, "tmp", "notes"), "utf8").catch(() => "")).includes(secret)) return true;
      }
      return false;
    };
    await eventually(written, { what: "the first run to write its files" });
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, second.number, "opened"));
    const found = await eventually(() => github.comments.find((comment) => comment.issue === second.number && !isStatusComment(comment)), { what: "the second run's comment" });
    expect(found.body).toContain("searched");
    expect(found.body).not.toContain(secret);
    // Run A was still going when B looked (it ends when the server stops, after this file).
    expect(await written()).toBe(true);
  });
});
