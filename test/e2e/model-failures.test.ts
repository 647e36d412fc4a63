// A misbehaving model API, through the built server: a refused key, overloads short and long, a
// reply cut off in the middle of a tool call, a refusal. The run's status, its check and what the
// model was told must say what happened. The cases share one server and run side by side.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckRun } from "./support/fake-github.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/model";

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(21, "acme");
  await world.github.addRepository(REPO, 21, {
    "README.md": "model\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", triggers: [{ github: { event: "pull_request", actions: ["opened"] } }] } }),
  });
  server = await world.startServer({ extra: { ROUTINES_WORKERS: "5" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

let branches = 0;
/** Opens a pull request whose title carries the marker, and waits for its run's check to complete. */
async function runFor(marker: string, timeoutMs = 30_000) {
  const branch = `change-${++branches}`;
  await world.github.commit(REPO, branch, { "README.md": `model ${branches}\n` });
  const pull = await world.github.openPullRequest(REPO, { head: branch, title: `${marker} change`, user: "alice" });
  const head = await world.github.sha(REPO, `refs/heads/${branch}`);
  await server.deliver("pull_request", await pullRequestEvent(world.github, REPO, pull.number, "opened"));
  return eventually(() => world.github.checkRuns.find((check) => check.head_sha === head && check.status === "completed"), { timeoutMs, what: `the check of ${marker}` });
}

/** The run behind a check (its external_id), as `routines runs show` prints it from the server's store: status and transcript. */
async function shown(check: CheckRun): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "runs", "show", check.external_id!], { cwd: server.cwd, env: { PATH: process.env.PATH } });
  return stdout;
}

const overloaded = { error: { status: 529, type: "overloaded_error", message: "Overloaded" }, retryAfter: "1" };

describe.concurrent("the model API misbehaving", () => {
  it("529 for longer than the retry budget: the run errors and its check fails, saying so", async () => {
    world.model.session("[overloaded-long]", () => overloaded);
    const check = await runFor("[overloaded-long]", 120_000);
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toMatch(/^Errored: the model API failed: the model API was still failing after 1m of retries: 529 overloaded_error: Overloaded/);
    expect(world.model.sessionRequests("[overloaded-long]").length).toBeGreaterThan(5);
    const run = await shown(check);
    expect(run).toMatch(/^  status {4}errored \(the model API failed: the model API was still failing after 1m of retries: 529 overloaded_error/m);
    expect(run).toMatch(/ model_retry \{"turn":\d+,"attempt":1,"status":529,"requestId":"req_fake_\d+","error":"529 overloaded_error: Overloaded","waitMs":1000\}/);
  }, 150_000);

  it("401: the key is refused at once, with what to check, and never retried", async () => {
    world.model.session("[refused-key]", () => ({ error: { status: 401, type: "authentication_error", message: "invalid x-api-key" } }));
    const check = await runFor("[refused-key]");
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Errored: the model API failed: the model API refused the key (401 authentication_error: invalid x-api-key): check ANTHROPIC_API_KEY");
    expect(world.model.sessionRequests("[refused-key]")).toHaveLength(1);
    const run = await shown(check);
    expect(run).toMatch(/^  status {4}errored \(the model API failed: the model API refused the key \(401 authentication_error: invalid x-api-key\): check ANTHROPIC_API_KEY\)/m);
    expect(run).not.toMatch(/ model_retry /);
  });

  it("529 for a few seconds: retried honouring retry-after, then the run succeeds", async () => {
    world.model.session("[overloaded-short]", (turn, attempt) => (turn === 0 && attempt <= 3 ? overloaded : outcome("Fine after all.")));
    const check = await runFor("[overloaded-short]");
    expect(check.conclusion).toBe("success");
    const times = world.model.sessionRequests("[overloaded-short]").length;
    expect(times).toBe(4);
  });

  it("a tool call cut off at the output limit is not executed; the model is told and goes on", async () => {
    world.model.session("[cut-off]", [
      { content: [{ type: "tool_use", name: "create_file", input: { path: "HALF.md", content: "a long file ".repeat(50) } }], stop_reason: "max_tokens", truncateInputAt: 60 },
      call("shell", { command: "ls HALF.md || echo absent" }),
      outcome("Wrote it in parts."),
    ]);
    const check = await runFor("[cut-off]");
    expect(check.conclusion).toBe("success");
    const [, second, third] = world.model.sessionRequests("[cut-off]");
    const told = JSON.stringify(second!.body.messages.at(-1));
    expect(told).toContain("was not executed");
    expect(told).toContain('"is_error":true');
    expect(JSON.stringify(third!.body.messages.at(-1))).toContain("absent");
    const run = await shown(check);
    expect(run).toMatch(/ reply_cut_off \{"turn":\d+,.*"toolCalls":\["create_file"\]\}/);
    expect(run).toMatch(/ tool_result \{[^\n]*"name":"create_file"[^\n]*"isError":true\}/);
  });

  it("a refusal ends the run with its own reason, and its check fails", async () => {
    world.model.session("[refusal]", [{ content: [{ type: "text", text: "I can't help with that." }], stop_reason: "refusal" }]);
    const check = await runFor("[refusal]");
    expect(check.conclusion).toBe("failure");
    expect(check.output?.title).toBe("Stopped: the model declined to continue (refusal)");
    const run = await shown(check);
    expect(run).toMatch(/^  status {4}completed/m);
    expect(run).toMatch(/ session_end \{"stopReason":"refusal","detail":"the model declined to continue \(refusal\)"/);
  });
});
