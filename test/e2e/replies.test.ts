// Slash commands' reactions and replies through the built server: each is sent once, whether the
// delivery is handled again after a `kill -9` or GitHub fails a write (answered or not).
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commentEvent } from "./support/payloads.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { isStatusComment, keepDiagnostics, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/answers";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(7, "acme");
  await world.github.addRepository(REPO, 7, {
    "README.md": "answers\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ command: "review" }] } }),
  });
  world.github.permissions.set(`${REPO}:writer`, "write");
  // No model key: runs wait in the queue; what is under test is the answer to the command.
  server = await world.startServer({ extra: { ANTHROPIC_API_KEY: "" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

let changes = 0;
async function pullRequest() {
  const branch = `feature/${++changes}`;
  await world.github.commit(REPO, branch, { [`change-${changes}.txt`]: `${changes}\n` });
  return world.github.openPullRequest(REPO, { head: branch, title: `Change ${changes}`, user: "alice" });
}

const commentsOn = (issue: number) => world.github.comments.filter((comment) => comment.repository === REPO && comment.issue === issue);
const reactionsTo = (commentId: number) => world.github.reactions.filter((reaction) => reaction.commentId === commentId);
/** Reactions the server sent to the comment, answered or not. */
const reactionRequests = (commentId: number) => world.github.requests.filter((request) => request.method === "POST" && request.path === `/repos/${REPO}/issues/comments/${commentId}/reactions`);

function inboxState(deliveryId: string): string | undefined {
  const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT state FROM inbox WHERE delivery_id = ?").get(deliveryId) as { state: string } | undefined)?.state;
  } finally {
    db.close();
  }
}

function pendingReplies(): number {
  const db = new Database(join(server.cwd, "data", "routines.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS count FROM reply_outbox WHERE state = 'pending'").get() as { count: number }).count;
  } finally {
    db.close();
  }
}

describe("a slash command's answers, as deployed", () => {
  it("gets one 👀 and one status comment when its delivery is handled again after a kill -9", async () => {
    const pull = await pullRequest();
    // The handler waits on the pull request when the server is killed: the 👀 is out, the reply not yet.
    world.github.routeDelays.set("GET /pulls/:number", 20_000);
    await server.deliver("issue_comment", commentEvent(world.github, REPO, pull.number, "/routine run review", { sender: "writer", id: 701 }), { id: "command-crash" });
    await eventually(() => reactionsTo(701).length === 1, { what: "the 👀 reaction before the kill" });
    await server.crash();
    world.github.routeDelays.clear();
    expect(inboxState("command-crash")).toBe("pending");

    await server.restart();
    // The delivery is handled again from the inbox, and its run requested.
    // On a pull request the routine's status comment is the answer: the run waits in the queue (no model key).
    const reply = await eventually(() => commentsOn(pull.number).find((comment) => isStatusComment(comment)), { what: "the status comment after the restart" });
    await eventually(() => inboxState("command-crash") === "done", { what: "the delivery to be handled" });
    await sleep(1_500);
    expect(reactionRequests(701)).toHaveLength(1);
    expect(reactionsTo(701)).toHaveLength(1);
    expect(commentsOn(pull.number)).toHaveLength(1);
    expect(reply.body).toMatch(/^⏳ \*\*`review`\*\* is queued on `[0-9a-f]{7}`\.\n\n<sub>\[run `run_[0-9a-f]+`\]\(http:\/\/localhost:\d+\/dashboard\/runs\/run_[0-9a-f]+\) · started by `\/routine run` from @writer<\/sub>\n<!-- routines:status:[0-9a-f]+ -->$/);
  });

  it("posts a reply once when GitHub fails its first write, whether or not GitHub made the comment", async () => {
    const pull = await pullRequest();
    world.github.commentFaults.failNext = 1;
    await server.deliver("issue_comment", commentEvent(world.github, REPO, pull.number, "/routine list", { sender: "writer", id: 702 }));
    await eventually(() => commentsOn(pull.number).length === 1, { what: "the reply after a 502" });
    expect(world.github.commentFaults.failNext).toBe(0);

    // GitHub made the comment and answered 502: the retry finds it by its marker.
    world.github.commentFaults.failNext = 1;
    world.github.commentFaults.applyFailed = true;
    await server.deliver("issue_comment", commentEvent(world.github, REPO, pull.number, "/routine help", { sender: "writer", id: 703 }));
    await eventually(() => commentsOn(pull.number).length === 2, { what: "the reply answered with a 502" });
    // Long enough for a second creation, had the retry not found the first (backoff: 1 s).
    await sleep(3_000);
    world.github.commentFaults.applyFailed = false;
    expect(commentsOn(pull.number)).toHaveLength(2);
    expect(server.output()).toContain("a reply could not be written; trying again");
    expect(pendingReplies()).toBe(0);
    expect(commentsOn(pull.number)[0]!.body).toMatch(/^Routines that can run here: `review`\.\n\n<!-- routines:reply:/);
    expect(commentsOn(pull.number)[1]!.body).toContain("**Routines commands**");
  });
});
