import { describe, expect, it } from "vitest";
import { formatProblem, isError } from "../../src/config/problem.js";
import { validateRoutines } from "../../src/config/validate.js";
import { listFixtures, readExample, readFixture } from "../support/fixtures.js";

const now = new Date("2026-11-24T12:00:00Z");
const lines = (source: string, options = {}) =>
  validateRoutines(source, { now, ...options }).problems.map((problem) => formatProblem("f", problem).replace(/^f:/, ""));

describe("invalid configs", () => {
  const fixtures = listFixtures("config/invalid");

  it("has at least 20 broken configs", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
  });

  it.each(fixtures)("%s reports exactly its expected problems", (name) => {
    const expected = readFixture(`config/invalid/${name.replace(/\.yml$/, ".expected")}`).trim().split("\n");
    expect(lines(readFixture(`config/invalid/${name}`))).toEqual(expected);
  });
});

describe("valid configs", () => {
  it.each(listFixtures("config/valid"))("%s has no problems", (name) => {
    const config = validateRoutines(readFixture(`config/valid/${name}`), { now });
    expect(config.problems).toEqual([]);
    expect(Object.keys(config.routines).length).toBeGreaterThan(0);
  });

  it("routines.example.yml has no problems", () => {
    expect(validateRoutines(readExample(), { now }).problems).toEqual([]);
  });

  it("keeps the routines that are valid when others are broken", () => {
    const config = validateRoutines(readFixture("config/partly-broken.yml"), { now });
    expect(Object.keys(config.routines)).toEqual(["review"]);
    expect(Object.keys(config.environments)).toEqual(["default"]);
    expect(config.problems.filter(isError).map((problem) => problem.path.join("."))).toEqual([
      "environments.broken.network",
      "routines.nightly.triggers.0.schedule.cron",
    ]);
  });

  it("reads the routines with their values", () => {
    const config = validateRoutines(readExample(), { now });
    expect(config.routines.review).toMatchObject({ max_turns: 60, timeout: "20m" });
    expect(config.environments.default?.env).toEqual({ NODE_ENV: "test" });
  });
});

describe("rules", () => {
  const schedule = (cron: string) => `version: 1\nroutines:\n  poll:\n    prompt: Poll.\n    triggers:\n      - schedule: { cron: "${cron}" }\n`;

  it("reports every problem in the file at once", () => {
    const source = [
      "version: 1",
      "routines:",
      "  a:",
      "    promt: x",
      "    timeout: soon",
      "    triggers:",
      "      - schedule: { cron: '* * * * *', timezone: Nowhere/City }",
      "      - github: { event: push }",
      "  b:",
      "    prompt: y",
      "    environment: missing",
    ].join("\n");
    expect(lines(source)).toEqual([
      "3:3: routines.a: needs prompt or prompt_file",
      '4:5: routines.a.promt: unknown key "promt"; did you mean "prompt"?',
      '5:14: routines.a.timeout: must be a duration such as "90s", "30m", "1h30m" or "2d"',
      '7:50: routines.a.triggers[0].schedule.timezone: must be an IANA time zone such as "Europe/Berlin" or "UTC"',
      '8:26: routines.a.triggers[1].github.event: must be one of "pull_request", "release", "issues", "workflow_run", "deployment_status"; got "push"',
      '11:18: routines.b.environment: environment "missing" is not defined under environments (none are defined)',
    ]);
  });

  it("lets the operator lower the minimum schedule interval", () => {
    expect(lines(schedule("*/10 * * * *"))).toHaveLength(1);
    expect(lines(schedule("*/10 * * * *"), { minScheduleInterval: 10 * 60_000 })).toEqual([]);
    expect(lines(schedule("0 0,1 * * *"), { minScheduleInterval: 2 * 3_600_000 })).toEqual([
      "6:27: routines.poll.triggers[0].schedule.cron: runs every 1h, more often than the minimum interval of 2h set by the server (ROUTINES_MIN_SCHEDULE_INTERVAL)",
    ]);
  });

  it("holds max_github_writes to the server's ceiling, at the key's line", () => {
    const source = (writes: number) => `version: 1\nroutines:\n  triage:\n    prompt: Triage.\n    max_github_writes: ${writes}\n`;
    expect(lines(source(100))).toEqual([]);
    expect(lines(source(101))).toEqual(["5:24: routines.triage.max_github_writes: 101 is more GitHub writes per run than the server allows (100, set by ROUTINES_MAX_GITHUB_WRITES)"]);
    expect(lines(source(101), { maxGithubWrites: 500 })).toEqual([]);
    expect(lines(source(0), { maxGithubWrites: 0 })).toEqual([]);
    expect(lines(source(-1))).toEqual(["5:24: routines.triage.max_github_writes: must be a whole number, 0 or more"]);
    expect(Object.keys(validateRoutines(source(101), { now }).routines)).toEqual([]);
  });

  it("reads a routine's budget and holds it to the server's ceilings, at the key's line", () => {
    const source = (budget: string) => `version: 1\nroutines:\n  triage:\n    prompt: Triage.\n    budget:\n${budget}`;
    const ok = source("      run_usd: 2.5\n      run_tokens: 400000\n      daily_usd: 20\n");
    expect(lines(ok)).toEqual([]);
    expect(validateRoutines(ok, { now }).routines.triage!.budget).toEqual({ run_usd: 2.5, run_tokens: 400_000, daily_usd: 20 });
    const ceilings = { budgetCeilings: { runUsd: 2, dailyUsd: 10 } };
    expect(lines(ok, ceilings)).toEqual([
      "6:16: routines.triage.budget.run_usd: $2.5 is more dollars per run than the server allows ($2, set by ROUTINES_BUDGET_MAX_RUN_USD)",
      "8:18: routines.triage.budget.daily_usd: $20 is more dollars per day than the server allows ($10, set by ROUTINES_BUDGET_MAX_DAILY_USD)",
    ]);
    expect(Object.keys(validateRoutines(ok, { now, ...ceilings }).routines)).toEqual([]);
    expect(lines(source("      run_usd: 2\n      daily_usd: 10\n"), ceilings)).toEqual([]);
    expect(lines(source("      run_usd: 0\n"))).toEqual(["6:16: routines.triage.budget.run_usd: must be an amount of dollars above 0, e.g. 5 or 0.5"]);
    expect(lines(source("      run_tokens: 1.5\n"))).toHaveLength(1);
    expect(lines(source("      monthly_usd: 100\n"))[0]).toMatch(/^6:7: routines\.triage\.budget/);
  });

  it("reads a routine's review settings, and reports a glob that expands too far or a key it does not know", () => {
    const source = (review: string) => `version: 1\nroutines:\n  review:\n    prompt: Review.\n    review:\n${review}`;
    const ok = source('      skip: ["**/__snapshots__/**", "!vendor/ours/**"]\n      verify: true\n      verify_model: claude-haiku-4-5\n');
    expect(lines(ok)).toEqual([]);
    expect(validateRoutines(ok, { now }).routines.review!.review).toEqual({ skip: ["**/__snapshots__/**", "!vendor/ours/**"], verify: true, verify_model: "claude-haiku-4-5" });
    const braces = `"${"{a,b}".repeat(7)}"`;
    expect(lines(source(`      skip: [${braces}]\n`))).toEqual([
      '6:14: routines.review.review.skip[0]: must be a path glob such as "docs/**" or "**/*.snap", with {…} alternatives expanding to at most 64 globs',
    ]);
    expect(lines(source('      skip: [""]\n'))[0]).toMatch(/routines\.review\.review\.skip\[0\]: must not be empty/);
    expect(lines(source("      verify: yes please\n"))).toHaveLength(1);
    expect(lines(source("      exclude: [a]\n"))[0]).toMatch(/^6:7: routines\.review\.review/);
  });

  it("keeps a routine whose one-off time has passed, with a warning", () => {
    const source = 'version: 1\nroutines:\n  once:\n    prompt: Once.\n    triggers:\n      - schedule: { at: "2026-11-24T11:00:00Z" }\n';
    const config = validateRoutines(source, { now });
    expect(Object.keys(config.routines)).toEqual(["once"]);
    expect(config.problems.map((problem) => problem.severity)).toEqual(["warning"]);
    expect(validateRoutines(source, { now: new Date("2026-11-24T10:00:00Z") }).problems).toEqual([]);
  });

  it("reads a one-off time without offset in the trigger's time zone", () => {
    const source = 'version: 1\nroutines:\n  once:\n    prompt: Once.\n    triggers:\n      - schedule: { at: "2026-11-24T12:30", timezone: Europe/Berlin }\n';
    // 12:30 in Berlin is 11:30 UTC, before `now`.
    expect(validateRoutines(source, { now }).problems[0]?.message).toBe(
      "2026-11-24T11:30:00.000Z is in the past; this one-off schedule will not fire",
    );
  });

  it("reports a trigger kind written without a value at its line, and keeps the other routines", () => {
    const config = validateRoutines(readFixture("config/invalid/trigger-kind-without-value.yml"), { now });
    expect(config.problems.map((problem) => [problem.line, problem.col, problem.path.join(".")])).toEqual([[7, 9, "routines.triage.triggers.0"]]);
    expect(Object.keys(config.routines)).toEqual(["nightly"]);
  });

  it("reports empty entries and values of the wrong shape, where the cross-field checks expect maps and lists", () => {
    const head = "version: 1\nroutines:\n";
    expect(lines(`${head}  review:\n  other:\n    prompt: x\n`)).toEqual(["3:10: routines.review: expected a map, got nothing"]);
    expect(lines(`${head}  review:\n    prompt: x\n    triggers:\n      -\n      - schedule:\n      - github:\n      - github: { event: pull_request, actions: opened }\n`)).toEqual([
      "6:8: routines.review.triggers[0]: expected a map, got nothing",
      "7:18: routines.review.triggers[1].schedule: expected a map, got nothing",
      "8:16: routines.review.triggers[2].github: expected a map, got nothing",
      '9:49: routines.review.triggers[3].github.actions: expected a list, got "opened"',
    ]);
    expect(lines("version: 1\nenvironments:\n  default:\nroutines:\n  review:\n    prompt: x\n")).toEqual(["3:11: environments.default: expected a map, got nothing"]);
  });

  it("reports every problem of a routine whose name is invalid, and never runs it", () => {
    const config = validateRoutines(readFixture("config/invalid/invalid-routine-name-and-more.yml"), { now });
    expect(config.problems.map((problem) => problem.path.join("."))).toEqual([
      "routines.my routine",
      "routines.my routine",
      "routines.my routine.promt",
      "routines.my routine.timeout",
      "routines.-x",
      "routines.-x.triggers.0.schedule",
    ]);
    expect(Object.keys(config.routines)).toEqual(["review"]);
  });

  it("runs nothing from a file without the supported version", () => {
    expect(validateRoutines("version: 2\nroutines:\n  a:\n    prompt: x\n").routines).toEqual({});
    expect(validateRoutines("version: 2\nshare_with: [acme/app]\n").shareWith).toEqual([]);
  });
});

describe("share_with", () => {
  it("is all a file needs to share its repository", () => {
    const config = validateRoutines("version: 1\nshare_with:\n  - acme/app\n  - { repository: acme/site, access: write }\n");
    expect(config.problems).toEqual([]);
    expect(config.shareWith).toEqual([
      { repository: "acme/app", access: "read" },
      { repository: "acme/site", access: "write" },
    ]);
  });

  it("keeps routines required in a file that shares nothing", () => {
    expect(lines("version: 1\n")).toEqual(['1:1: missing required key "routines"']);
  });

  it("shares through the valid entries only, and a broken routine does not withdraw them", () => {
    const config = validateRoutines("version: 1\nshare_with: [acme/app, { repository: acme/site, access: admin }]\nroutines:\n  a:\n    promt: x\n");
    expect(config.shareWith).toEqual([{ repository: "acme/app", access: "read" }]);
    expect(config.problems.map((problem) => problem.path.join("."))).toEqual(["share_with.1.access", "routines.a", "routines.a.promt"]);
  });
});
