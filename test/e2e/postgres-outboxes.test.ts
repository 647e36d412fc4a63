// The webhook inbox and the GitHub-write outboxes with two built servers on one PostgreSQL
// database: deliveries go to one server and are delivered again to the other, while GitHub answers
// writes slowly, so both servers find the same deliveries and writes waiting in the store. Each
// delivery is handled once, and each check run, status comment and reply is made once.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { commentEvent, pullRequestEvent } from "./support/payloads.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { isStatusComment, keepDiagnostics, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/shared";
const PULLS = 10;

let postgres: TestPostgres | undefined;
let databaseUrl: string;
let world: World;
let servers: ServerProcess[] = [];

async function query<Row extends pg.QueryResultRow>(text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!hasPostgres)("the inbox and the outboxes on two servers sharing PostgreSQL", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase();
    world = await startWorld();
    world.github.addInstallation(13, "acme");
    await world.github.addRepository(REPO, 13, {
      "README.md": "shared\n",
      ".claude/routines.yml": routinesYml({
        review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }, { command: "review" }] },
      }),
    });
    world.github.permissions.set(`${REPO}:writer`, "write");
    // No model key: runs wait in the queue; what is under test is what the servers write about them.
    const extra = { DATABASE_URL: databaseUrl, ANTHROPIC_API_KEY: "" };
    servers = await Promise.all([world.startServer({ extra }), world.startServer({ extra })]);
  });

  keepDiagnostics(() => ({ world, servers }));

  afterAll(async () => {
    await world?.close();
    await postgres?.stop();
  });

  it("handles each delivery once and makes each check run, status comment and reply once", { timeout: 180_000 }, async () => {
    const { github } = world;
    // GitHub answers writes slowly: the other server has time to find the same ones waiting.
    github.checkRunFaults.delayMs = 300;
    github.routeDelays.set("POST /issues/:number/comments", 300);
    github.routeDelays.set("POST /issues/comments/:id/reactions", 300);

    const pulls: Array<{ number: number; head: string }> = [];
    const deliveries: string[] = [];
    for (let i = 0; i < PULLS; i++) {
      const branch = `feature/${i}`;
      await github.commit(REPO, branch, { [`change-${i}.txt`]: `${i}\n` });
      const pull = await github.openPullRequest(REPO, { head: branch, title: `Change ${i}`, user: "alice" });
      pulls.push({ number: pull.number, head: await github.sha(REPO, `refs/heads/${branch}`) });
      const [first, other] = i % 2 === 0 ? [servers[0]!, servers[1]!] : [servers[1]!, servers[0]!];
      // The pull request's delivery to one server and again to the other; then a command on it the other way round.
      const opened = { id: `opened-${pull.number}` };
      const event = await pullRequestEvent(github, REPO, pull.number, "opened");
      expect((await first.deliver("pull_request", event, opened)).status).toBe(202);
      expect((await other.deliver("pull_request", event, opened)).status).toBe(202);
      const command = commentEvent(github, REPO, pull.number, "/routine list", { sender: "writer", id: 5_000 + i });
      const commented = { id: `command-${pull.number}` };
      expect((await other.deliver("issue_comment", command, commented)).status).toBe(202);
      expect((await first.deliver("issue_comment", command, commented)).status).toBe(202);
      deliveries.push(opened.id, commented.id);
    }

    const commentsOn = (issue: number) => github.comments.filter((comment) => comment.repository === REPO && comment.issue === issue);
    await eventually(
      () => pulls.every(({ number, head }) => commentsOn(number).length >= 2 && github.checkRuns.some((check) => check.head_sha === head)),
      { timeoutMs: 90_000, what: "every pull request's check run, status comment and reply" },
    );
    await eventually(async () => (await query<{ count: number }>("SELECT count(*)::int AS count FROM inbox WHERE state = 'pending'"))[0]!.count === 0, {
      what: "the inbox to be worked through",
    });
    const pending = async () =>
      (
        await query<{ count: number }>(
          `SELECT (SELECT count(*) FROM check_outbox WHERE version > published_version) + (SELECT count(*) FROM reply_outbox WHERE state = 'pending')
             + (SELECT count(*) FROM status_comments WHERE version > published_version) AS count`,
        )
      )[0]!.count;
    await eventually(async () => Number(await pending()) === 0, { timeoutMs: 60_000, what: "the outboxes to be sent" });
    // Time for a second write of anything, had one been on its way (both servers poll every second).
    await sleep(3_000);

    // Each delivery was handled once, by one of the servers; each pull request has one check run,
    // one status comment and one reply.
    const inbox = await query<{ delivery_id: string; state: string; attempts: number }>("SELECT delivery_id, state, attempts FROM inbox ORDER BY seq");
    expect(inbox.map((row) => row.delivery_id).sort()).toEqual([...deliveries].sort());
    const written = pulls.map(({ number, head }) => ({
      pull: number,
      checkRuns: github.checkRuns.filter((check) => check.head_sha === head).length,
      statusComments: commentsOn(number).filter(isStatusComment).length,
      replies: commentsOn(number).filter((comment) => comment.body.startsWith("Routines that can run here")).length,
      comments: commentsOn(number).length,
    }));
    expect({ notHandledOnce: inbox.filter((row) => row.state !== "done" || row.attempts !== 1), written }).toEqual({
      notHandledOnce: [],
      written: pulls.map(({ number }) => ({ pull: number, checkRuns: 1, statusComments: 1, replies: 1, comments: 2 })),
    });
    // Both servers took part.
    expect(servers.every((server) => /delivery handled/.test(server.output()))).toBe(true);
  });
});
