import nock from "nock";
import { describe, expect, it } from "vitest";
import type { ReplyWrite } from "../../src/runs/store.js";
import { receive, testApp } from "../support/app.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, useNock, webhookExample } from "../support/github.js";

const REPO = "/repos/Codertocat/Hello-World";
const ROUTINES = `version: 1
routines:
  review:
    prompt: Review.
    triggers:
      - command:
  triage:
    prompt: Triage.
    triggers:
      - command: { name: fix, issues: true }
`;

// GitHub's example comment is on issue #1; most tests put it on a pull request.
const comment = (body: string, { onPullRequest = true, action = "created" } = {}) => {
  const payload = webhookExample("issue_comment", "created");
  payload.action = action;
  payload.comment.body = body;
  if (onPullRequest) payload.issue.pull_request = { url: `https://api.github.com${REPO}/pulls/1` };
  return payload;
};

const permission = (role: string, login = "Codertocat") =>
  nock(API).get(`${REPO}/collaborators/${login}/permission`).reply(200, { permission: role === "maintain" ? "write" : role, role_name: role });
const defaultBranch = (yml = ROUTINES) => nock(API).get(CONTENTS_PATH).once().reply(200, contentsReply(yml, "config-sha"));

type TestStore = ReturnType<typeof testApp>["store"];

/** The reactions and replies recorded for sending, in the order they would be sent; takes them out. */
async function recorded(store: TestStore): Promise<ReplyWrite[]> {
  const writes: ReplyWrite[] = [];
  for (;;) {
    const [next] = await store.pendingReplies(new Date(), 1);
    if (!next) return writes;
    expect(next).toMatchObject({ installationId: 1, repository: { owner: "Codertocat", repo: "Hello-World" }, issueNumber: 1 });
    writes.push(next.write);
    await store.markReplyDone(next.key, new Date(), "sent");
  }
}

const EYES: ReplyWrite = { kind: "reaction", commentId: 492700400, content: "eyes" };
const text = (body: string): ReplyWrite => ({ kind: "comment", body });

/** The one reply recorded, with no reaction. */
async function onlyReply(store: TestStore): Promise<string> {
  const writes = await recorded(store);
  expect(writes).toHaveLength(1);
  expect(writes[0]?.kind).toBe("comment");
  return writes[0]?.kind === "comment" ? writes[0].body : "";
}

describe("/routine commands", () => {
  useNock(() => nockInstallationToken(1));

  it("runs the named routine for a writer, with the rest of the comment as extra instructions", async () => {
    const { probot, admission, store } = testApp();
    permission("write");
    defaultBranch();
    nock(API)
      .get(`${REPO}/pulls/1`)
      .reply(200, { number: 1, title: "Fix the login page", user: { login: "octocat" }, head: { sha: "abc123", ref: "fix-login", repo: { full_name: "Codertocat/Hello-World" } }, base: { ref: "main", repo: { full_name: "Codertocat/Hello-World" } } });

    await receive(probot, "issue_comment", comment("/routine run review focus on the auth changes\nand the tests"), "comment-delivery");
    const [result] = admission.results;
    expect(result).toMatchObject({
      status: "queued",
      run: {
        routine: "review",
        trigger: { kind: "command", index: 0, deliveryId: "comment-delivery", commentId: 492700400, author: "Codertocat", issueNumber: 1 },
        context: {
          extraInstructions: "focus on the auth changes\nand the tests",
          pullRequest: { number: 1, headSha: "abc123", headRef: "fix-login", baseRef: "main", title: "Fix the login page", author: "octocat" },
          withoutSecrets: false,
        },
      },
    });
    // On a pull request the routine's status comment answers: no reply of its own.
    expect(await recorded(store)).toEqual([EYES]);
    expect(result?.status === "queued" && result.run.context.statusComment).toBeUndefined();
  });

  it("replies with the run's link on a pull request when the routine has no status comment", async () => {
    const { probot, admission, store } = testApp();
    permission("write");
    defaultBranch(ROUTINES.replace("    prompt: Review.\n", "    prompt: Review.\n    status_comment: false\n"));
    nock(API)
      .get(`${REPO}/pulls/1`)
      .reply(200, { number: 1, title: "t", user: { login: "octocat" }, head: { sha: "abc123", ref: "x", repo: { full_name: "Codertocat/Hello-World" } }, base: { ref: "main", repo: { full_name: "Codertocat/Hello-World" } } });
    await receive(probot, "issue_comment", comment("/routine run review"));
    const [result] = admission.results;
    expect(result).toMatchObject({ status: "queued", run: { context: { statusComment: false } } });
    const runId = result?.status === "queued" ? result.run.id : "";
    expect(await recorded(store)).toEqual([EYES, text(`Started \`review\` as [${runId}](https://routines.example.test/dashboard/runs/${runId}).`)]);
  });

  it("accepts maintainers and admins, and asks GitHub once per commenter for a while", async () => {
    const { probot, admission, store } = testApp();
    permission("maintain");
    defaultBranch();
    await receive(probot, "issue_comment", comment("/routine list"));
    await receive(probot, "issue_comment", comment("/routine help"));
    const texts = (await recorded(store)).map((write) => (write.kind === "comment" ? write.body : ""));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toBe("Routines that can run here: `review`, `fix`.");
    expect(texts[1]).toContain("- `/routine run <name> [instructions]` runs a routine here");
    expect(texts[1]).toContain("Routines that can run here: `review`, `fix`.");
    expect(admission.results).toEqual([]);
  });

  it("politely refuses people without write access, and runs nothing", async () => {
    const { probot, admission, store } = testApp();
    permission("read");
    await receive(probot, "issue_comment", comment("/routine run review"));
    expect(await onlyReply(store)).toBe("@Codertocat, only people with write access to this repository can use `/routine` commands, so nothing was started.");
    expect(admission.results).toEqual([]);
  });

  it("treats a commenter GitHub does not know as without access", async () => {
    const { probot, store } = testApp();
    nock(API).get(`${REPO}/collaborators/Codertocat/permission`).reply(404, { message: "Not Found" });
    await receive(probot, "issue_comment", comment("/routine run review"));
    expect(await onlyReply(store)).toMatch(/^@Codertocat, only people with write access/);
  });

  it("lists the routines that exist when the name is unknown", async () => {
    const { probot, admission, store } = testApp();
    permission("admin");
    defaultBranch();
    await receive(probot, "issue_comment", comment("/routine run reveiw"));
    expect(await onlyReply(store)).toBe("There is no routine `reveiw` to run here. Routines that can run here: `review`, `fix`.");
    expect(admission.results).toEqual([]);
  });

  it("runs on issues only routines whose command allows it", async () => {
    const { probot, admission, store } = testApp();
    permission("write");
    defaultBranch();
    await receive(probot, "issue_comment", comment("/routine run review", { onPullRequest: false }));
    expect(await onlyReply(store)).toBe("There is no routine `review` to run here. Routines that can run here: `fix`.");

    await receive(probot, "issue_comment", comment("/routine run fix", { onPullRequest: false }));
    const [eyes, started] = await recorded(store);
    expect(eyes).toEqual(EYES);
    expect(started).toMatchObject({ kind: "comment", body: expect.stringMatching(/^Started `triage` as \[run_/) });
    expect(admission.results[0]).toMatchObject({ status: "queued", run: { routine: "triage", context: { withoutSecrets: false } } });
    expect(admission.results[0]?.status === "queued" && admission.results[0].run.context.pullRequest).toBeUndefined();
  });

  it.each([
    ["text before the command", "Thanks!\n/routine run review"],
    ["a quoted command", "> /routine run review"],
    ["a command in a code block", "```\n/routine run review\n```"],
    ["plain prose", "Looks good to me."],
  ])("ignores %s without calling GitHub", async (_, body) => {
    const { probot, admission } = testApp();
    nock.cleanAll(); // not even an installation token
    await receive(probot, "issue_comment", comment(body));
    expect(admission.results).toEqual([]);
  });

  it("ignores edited comments", async () => {
    const { probot, admission } = testApp();
    nock.cleanAll();
    await receive(probot, "issue_comment", comment("/routine run review", { action: "edited" }));
    expect(admission.results).toEqual([]);
  });

  it("ignores its own comments", async () => {
    const { probot, admission } = testApp();
    nock.cleanAll();
    nock(API).get("/app").reply(200, { slug: "routines-test" });
    const payload = comment("/routine help");
    payload.sender = { ...payload.sender, login: "routines-test[bot]", type: "Bot" };
    await receive(probot, "issue_comment", payload);
    expect(admission.results).toEqual([]);
  });

  it("starts one run, with one reaction, from a redelivered comment", async () => {
    const { probot, admission, store } = testApp();
    permission("write");
    defaultBranch();
    const pull = { number: 1, title: "t", user: { login: "octocat" }, head: { sha: "abc", ref: "x", repo: { full_name: "someone/Hello-World" } }, base: { ref: "main", repo: { full_name: "Codertocat/Hello-World" } } };
    nock(API).get(`${REPO}/pulls/1`).times(2).reply(200, pull);
    await receive(probot, "issue_comment", comment("/routine run review"), "redelivered");
    await receive(probot, "issue_comment", comment("/routine run review"), "redelivered");
    expect(admission.results.map((result) => result.status)).toEqual(["queued", "duplicate"]);
    // Handled twice, recorded once: one 👀 (the status comment names the run).
    expect(await recorded(store)).toEqual([EYES]);
    // A pull request from a fork: the run gets no secrets.
    expect(admission.results[0]).toMatchObject({ run: { context: { withoutSecrets: true, pullRequest: { fork: "someone/Hello-World" } } } });
  });

  it("says why a capped run was not started", async () => {
    const { probot, store } = testApp({ hourlyRunsPerRoutine: 0 });
    permission("write");
    defaultBranch();
    nock(API).get(`${REPO}/pulls/1`).reply(200, { number: 1, title: "t", user: { login: "o" }, head: { sha: "a", ref: "x", repo: { full_name: "Codertocat/Hello-World" } }, base: { ref: "main", repo: { full_name: "Codertocat/Hello-World" } } });
    await receive(probot, "issue_comment", comment("/routine run review"));
    expect(await recorded(store)).toEqual([
      EYES,
      text("`review` was not started: hourly cap reached: 0 webhook-started runs of review in Codertocat/Hello-World in the last hour (limit 0, ROUTINES_HOURLY_RUNS_PER_ROUTINE)."),
    ]);
  });
});
