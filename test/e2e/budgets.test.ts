// Money, through the built server: every model call priced (here by the operator's own table), a
// run stopped before a call that could go over its dollar budget, the agent told to wrap up first,
// a routine's daily budget spent so that its next run is rejected, and the cost in `routines runs`
// and on /metrics. The counts come from what the fake model received, not from the server's word.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckRun } from "./support/fake-github.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const SPENDER = "acme/spender";
const DAILY = "acme/daily";
/** Dollars per million tokens of every kind, so that costs are easy to reason about. */
const RATE = 10;
const RUN_USD = 0.5;
/**
 * A run of the daily routine makes two calls of about $0.043 each (a prompt of about 4 300 tokens),
 * so the first leaves about $0.053 of the day's budget: less than the worst case of a first call
 * (about $0.068, its whole prompt plus 1 000 output tokens).
 */
const DAILY_USD = 0.14;

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(31, "acme");
  const onOpened = [{ github: { event: "pull_request", actions: ["opened"] } }];
  await world.github.addRepository(SPENDER, 31, {
    "README.md": "spender\n",
    ".claude/routines.yml": routinesYml({ spender: { prompt: "Keep busy.", model: "budget-model", max_turns: 200, budget: { run_usd: RUN_USD }, triggers: onOpened } }),
  });
  await world.github.addRepository(DAILY, 31, {
    "README.md": "daily\n",
    ".claude/routines.yml": routinesYml({ daily: { prompt: "Do one thing.", model: "budget-model", budget: { daily_usd: DAILY_USD }, triggers: onOpened } }),
  });
  const prices = join(await mkdtemp(join(tmpdir(), "routines-prices-")), "prices.json");
  await writeFile(prices, JSON.stringify({ "budget-model": { input: RATE, cache_write: RATE, cache_read: RATE, output: RATE } }));
  server = await world.startServer({ extra: { ROUTINES_PRICES_FILE: prices, ROUTINES_MAX_OUTPUT_TOKENS: "1000", ROUTINES_WORKERS: "3" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

const routines = async (...args: string[]) => (await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } })).stdout;

let branches = 0;
/** Opens a pull request whose title carries the marker, and waits for its check to complete. */
async function runFor(repository: string, marker: string): Promise<CheckRun> {
  const branch = `change-${++branches}`;
  await world.github.commit(repository, branch, { "README.md": `change ${branches}\n` });
  const pull = await world.github.openPullRequest(repository, { head: branch, title: `${marker} change`, user: "alice" });
  const head = await world.github.sha(repository, `refs/heads/${branch}`);
  await server.deliver("pull_request", await pullRequestEvent(world.github, repository, pull.number, "opened"));
  return eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { timeoutMs: 90_000, what: `the check of ${marker}` });
}

const dollars = (text: string) => Number(text.replace("$", ""));

describe("budgets", () => {
  it("stops a run before a model call that could go over its dollar budget, after telling the agent to wrap up; says so in its status, check and transcript", async () => {
    // The agent never reports an outcome: only the budget ends the run.
    world.model.session("[spend]", (turn) => call("shell", { command: `echo step ${turn}` }));
    const check = await runFor(SPENDER, "[spend]");
    const runId = check.external_id!;
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toMatch(/^Stopped at the budget of \$0\.50: \$0\.4\d+ spent, and the next model call could cost up to \$0\.0\d+$/);
    expect(check.output?.summary).toMatch(/\| \$0\.4\d+ \|/);

    // Every request the model received is a turn in the transcript; none came after the stop.
    const requests = world.model.sessionRequests("[spend]");
    const shown = await routines("runs", "show", runId);
    const turns = shown.split("\n").filter((line) => / model_response /.test(line));
    expect(requests.length).toBeGreaterThan(5);
    expect(turns).toHaveLength(requests.length);
    expect(shown).toMatch(/ {2}status {4}completed \(stopped at the budget of \$0\.50: \$0\.4\d+ spent, and the next model call could cost up to \$0\.0\d+\)\n/);
    expect(shown).toMatch(/ session_end \{"stopReason":"budget","detail":"stopped at the budget of \$0\.50: /);
    const costText = /\n {2}cost {6}(\$[\d.]+)\n/.exec(shown)![1]!;
    const cost = dollars(costText);
    expect(cost).toBeGreaterThan(0.4);
    expect(cost).toBeLessThanOrEqual(RUN_USD);
    // Each turn's cost and the running total are in the transcript, and add up to the run's.
    const totals = turns.map((line) => JSON.parse(line.slice(line.indexOf("{"))) as { costUsd: number; totalCostUsd: number });
    expect(totals.at(-1)!.totalCostUsd).toBeCloseTo(totals.reduce((sum, turn) => sum + turn.costUsd, 0), 10);
    expect(totals.at(-1)!.totalCostUsd).toBeLessThanOrEqual(RUN_USD);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(world.model.sessionRequests("[spend]")).toHaveLength(requests.length);

    // The wrap-up note reached the model once, at the end of a turn that went on, before the last call.
    const noted = requests.map((request) => JSON.stringify(request.body.messages.at(-1))).findIndex((last) => last.includes("Wrap up now"));
    expect(noted).toBeGreaterThan(0);
    expect(noted).toBeLessThan(requests.length);
    expect(requests[noted]!.body.messages.at(-1).content.at(-1)).toMatchObject({ type: "text", text: expect.stringMatching(/^\[System note\] This run has used \$0\.\d+ of its budget of \$0\.50\. Wrap up now: .* report the outcome with report_outcome\./) });
    expect(requests.filter((request) => JSON.stringify(request.body.messages.at(-1)).includes("Wrap up now"))).toHaveLength(1);
    // At about 80 %: what the note says was spent, and what the transcript's turns had spent by then.
    const said = dollars(/This run has used (\$[\d.]+) of its budget/.exec(requests[noted]!.body.messages.at(-1).content.at(-1).text)![1]!);
    expect(said / RUN_USD).toBeGreaterThanOrEqual(0.7);
    expect(said / RUN_USD).toBeLessThan(0.9);
    expect(shown).toContain(" system_note {");
    // Nothing was posted to the pull request.
    expect(world.github.find("POST", /^\/api\/v3\/repos\/acme\/spender\/(issues|pulls)\/\d+\/(comments|reviews)$/)).toEqual([]);

    // The cost in `routines runs` and on /metrics.
    const listed = (await routines("runs", "--repo", SPENDER)).split("\n");
    expect(listed[0]).toMatch(/ COST /);
    expect(listed.find((line) => line.startsWith(runId))).toContain(` ${costText} `);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const counted = /routines_cost_usd_total\{repository="acme\/spender",routine="spender"\} ([\d.e-]+)/.exec(metrics);
    expect(Number(counted?.[1])).toBeCloseTo(cost, 2);
  }, 120_000);

  it("rejects the next run once a routine's daily budget is spent, saying why", async () => {
    world.model.session("[day-1]", [call("shell", { command: "echo one" }), outcome("Did it.")]);
    const first = await runFor(DAILY, "[day-1]");
    expect(first).toMatchObject({ conclusion: "success" });
    expect(world.model.sessionRequests("[day-1]")).toHaveLength(2);

    // What is left of the day's budget caps the next run: too little for its first call.
    world.model.session("[day-2]", [outcome("Never asked.")]);
    const second = await runFor(DAILY, "[day-2]");
    expect(second.conclusion).toBe("failure");
    expect(second.output?.title).toMatch(/^Stopped at the budget of \$0\.0\d+ \(what was left of the routine's daily budget of \$0\.14\): \$0\.00 spent, and the next model call could cost up to \$0\.0\d+$/);
    expect(world.model.sessionRequests("[day-2]")).toHaveLength(0);

    world.model.session("[day-3]", [outcome("Never asked.")]);
    const third = await runFor(DAILY, "[day-3]");
    expect(third.conclusion).toBe("action_required");
    // The title keeps GitHub's 200 characters; the summary has the whole reason.
    expect(third.output?.title).toMatch(/^Not started: daily budget of \$0\.14 spent \(budget\.daily_usd\): runs of daily in acme\/daily cost \$0\.\d+ in the last 24 hours, /);
    expect(third.output?.summary).toMatch(
      /^daily budget of \$0\.14 spent \(budget\.daily_usd\): runs of daily in acme\/daily cost \$0\.\d+ in the last 24 hours, too little left for a model call; new runs start when those runs are 24 hours old\n/,
    );
    expect(world.model.sessionRequests("[day-3]")).toHaveLength(0);
    const listed = await routines("runs", "--repo", DAILY, "--status", "rejected");
    expect(listed).toContain("rejected");
  }, 180_000);
});
