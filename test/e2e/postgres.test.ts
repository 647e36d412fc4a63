// The built server on PostgreSQL: DATABASE_URL in `.env` selects it, a pull request is reviewed
// end to end, and `routines runs` (same `.env`) lists the run from the database. The database's
// password stays out of the server's environment, its children's and its log; a URL that does not
// work stops the server with a message naming DATABASE_URL without the password.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, eventually, freePort, ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/shop";

let postgres: TestPostgres | undefined;
let world: World;
let server: ServerProcess;
let databaseUrl: string;
// The test cluster trusts loopback connections, so any password works; it is random so that no
// stray file on the machine holds it by accident.
const password = `pw-${randomBytes(12).toString("hex")}`;

const routines = async (...args: string[]) => (await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } })).stdout;

/** The environments of the server and of every process it started, as /proc shows them. */
async function processEnvirons(groupId: number): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== groupId) continue;
    found.push(await readFile(`/proc/${pid}/environ`, "utf8").catch(() => ""));
  }
  return found;
}

describe.skipIf(!hasPostgres)("the server on PostgreSQL", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = (await postgres.createDatabase()).replace("postgres@", `postgres:${password}@`);
    world = await startWorld();
    world.github.addInstallation(7, "acme");
    await world.github.addRepository(REPO, 7, {
      "src/app.js": "export const value = 1;\n",
      ".claude/routines.yml": routinesYml({
        review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] },
      }),
    });
    // A short lease, so that a killed server's run is taken over within seconds.
    server = await world.startServer({ extra: { DATABASE_URL: databaseUrl, ROUTINES_RUN_LEASE: "3s" } });
  });

  keepDiagnostics(() => ({ world, servers: [server] }));

  afterAll(async () => {
    await world?.close();
    await postgres?.stop();
  });

  it("reviews a pull request with its runs in PostgreSQL, which `routines runs` lists, and keeps the database's password to itself", async () => {
    const { github, model } = world;
    await github.commit(REPO, "feature/pg", { "src/app.js": "export const value = 2;\n" });
    const pull = await github.openPullRequest(REPO, { head: "feature/pg", title: "Change [case-pg]", user: "alice" });
    model.session("[case-pg]", [
      call("shell", { command: "env; echo done" }),
      call("create_review", { body: "Looks fine.", comments: [] }),
      outcome("Reviewed on PostgreSQL."),
    ]);
    const environs: string[] = [];
    const watching = setInterval(() => void processEnvirons(server.pid!).then((found) => environs.push(...found)), 200);
    try {
      await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
      const head = await github.sha(REPO, "refs/heads/feature/pg");
      const check = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the completed check run" });
      expect(check).toMatchObject({ name: "routines/review", conclusion: "success" });
      expect(github.reviews.filter((review) => review.pull === pull.number)).toHaveLength(1);
      const runId = check.external_id!;

      // The run and its transcript are in PostgreSQL, and there is no SQLite database.
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        expect((await client.query("SELECT status, outcome FROM runs WHERE id = $1", [runId])).rows).toEqual([{ status: "completed", outcome: "succeeded" }]);
        expect((await client.query("SELECT count(*)::int AS count FROM events WHERE run_id = $1", [runId])).rows[0].count).toBeGreaterThan(2);
        expect((await client.query("SELECT state FROM inbox")).rows).toEqual([{ state: "done" }]);
        // The pull request's status comment is kept there too, and published in the end.
        const statusComments = async () => (await client.query("SELECT key, version = published_version AS published FROM status_comments")).rows;
        await eventually(async () => (await statusComments())[0]?.published === true, { what: "the status comment's last text published" });
        expect(await statusComments()).toEqual([{ key: `${REPO}#${pull.number}:review`, published: true }]);
      } finally {
        await client.end();
      }
      expect(existsSync(join(server.cwd, "data", "routines.db"))).toBe(false);

      // The command reads the same `.env`, so the same database.
      const listed = await routines("runs");
      expect(listed).toContain(runId);
      expect(listed).toContain("completed");
      expect(await routines("runs", "show", runId)).toContain("Reviewed on PostgreSQL.");
    } finally {
      clearInterval(watching);
    }
    environs.push(...(await processEnvirons(server.pid!)));
    expect(environs.length).toBeGreaterThan(0);
    const sent = JSON.stringify(model.sessionRequests("[case-pg]"));
    expect(sent).toContain("done");
    for (const [where, text] of [["process environments", environs.join("\n")], ["the model's requests", sent], ["the server's log", server.output()]] as const) {
      expect(text.includes(password), `the password in ${where}`).toBe(false);
    }
  });

  it("after kill -9, the restarted server takes the dead run over once its lease expires and runs it again, since it published nothing", async () => {
    const { github, model } = world;
    await github.commit(REPO, "feature/crash", { "src/app.js": "export const value = 3;\n" });
    const pull = await github.openPullRequest(REPO, { head: "feature/crash", title: "Change [case-pg-crash]", user: "alice" });
    model.session("[case-pg-crash]", (turn, attempt) => (attempt === 1 && turn === 0 ? call("shell", { command: "sleep 7347", timeout_seconds: 600 }) : outcome("Reviewed after the crash.")));
    await server.deliver("pull_request", await pullRequestEvent(github, REPO, pull.number, "opened"));
    const head = await github.sha(REPO, "refs/heads/feature/crash");
    const running = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "in_progress"), { what: "the run to start" });
    await eventually(() => model.sessionRequests("[case-pg-crash]").length >= 1, { what: "the session's first model call" });
    const alive = new Set([...github.tokens.entries()].filter(([, t]) => t.repositories && !t.revoked).map(([token]) => token));
    expect(alive.size).toBeGreaterThan(0);
    await server.crash();

    await server.restart();
    const check = await eventually(() => github.checkRuns.find((c) => c.head_sha === head && c.status === "completed"), { what: "the run to complete after the restart" });
    expect(check).toMatchObject({ id: running.id, conclusion: "success" });
    // The dead attempt's token was revoked by the process that took the run over.
    for (const token of alive) expect(github.tokens.get(token)!.revoked).toBe(true);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const [row] = (await client.query("SELECT status, attempt FROM runs WHERE id = $1", [check.external_id])).rows;
      expect(row).toMatchObject({ status: "completed", attempt: 2 });
      const requeued = (await client.query("SELECT data FROM events WHERE run_id = $1 AND kind = 'requeued'", [check.external_id])).rows;
      expect(requeued.map((event) => JSON.parse(event.data as string))).toEqual([
        { why: "the process running it stopped renewing its lease (it stopped, crashed or lost the database)", attempt: 2 },
      ]);
    } finally {
      await client.end();
    }
  });

  it("stops at start with a message naming DATABASE_URL, without its password, when the database cannot be used", async () => {
    const unreachable = `postgres://routines:${password}@127.0.0.1:${await freePort()}/routines`;
    const failed = await ServerProcess.start({ dotenv: world.dotenv({ DATABASE_URL: unreachable }) }).then(
      () => undefined,
      (error: unknown) => String(error),
    );
    expect(failed).toMatch(/exited with 1/);
    expect(failed).toMatch(/cannot use the PostgreSQL database at postgres:\/\/routines:\*\*\*@127\.0\.0\.1:\d+\/routines \(DATABASE_URL\)/);
    expect(failed).not.toContain(password);

    const wrong = await ServerProcess.start({ dotenv: world.dotenv({ DATABASE_URL: `mysql://routines:${password}@db/routines` }) }).then(
      () => undefined,
      (error: unknown) => String(error),
    );
    expect(wrong).toContain("DATABASE_URL is not a PostgreSQL URL: mysql://routines:***@db/routines");
    expect(wrong).not.toContain(password);
  });
});
