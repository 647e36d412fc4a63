// The caps that keep a routines file from stalling the server: refused with file:line:col and the limit.
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../src/config/limits.js";
import { formatProblem } from "../../src/config/problem.js";
import { shortestCronInterval } from "../../src/config/time.js";
import { validateRoutines } from "../../src/config/validate.js";

const now = new Date("2026-11-24T12:00:00Z");
const file = (routines: Record<string, unknown>) => `version: 1\nroutines:\n${Object.entries(routines).map(([name, routine]) => `  ${name}: ${JSON.stringify(routine)}`).join("\n")}\n`;
const problems = (source: string) => validateRoutines(source, { now }).problems.map((problem) => formatProblem(".claude/routines.yml", problem));

describe("routines file caps", () => {
  it("refuses a file with more routines than the limit, whole, at its routines key", () => {
    const many = Object.fromEntries(Array.from({ length: LIMITS.routinesPerFile + 1 }, (_, i) => [`r${i}`, { prompt: "x" }]));
    const config = validateRoutines(file(many), { now });
    expect(problems(file(many))).toEqual([`.claude/routines.yml:2:1: routines: ${LIMITS.routinesPerFile + 1} routines; the limit is ${LIMITS.routinesPerFile} per file`]);
    expect(config.routines).toEqual({});
  });

  it("refuses a file with more triggers than the limit", () => {
    const triggers = Array.from({ length: 6 }, (_, i) => ({ command: `c${i}` }));
    const routines = Object.fromEntries(Array.from({ length: Math.ceil(LIMITS.triggersPerFile / 6) + 1 }, (_, i) => [`r${i}`, { prompt: "x", triggers }]));
    expect(problems(file(routines))[0]).toMatch(/^\.claude\/routines\.yml:2:1: routines: \d+ triggers; the limit is 500 per file, all routines together$/);
  });

  it("keeps a file at the limits", () => {
    const routines = Object.fromEntries(Array.from({ length: LIMITS.routinesPerFile }, (_, i) => [`r${i}`, { prompt: "x", triggers: [{ command: `c${i}` }] }]));
    expect(Object.keys(validateRoutines(file(routines), { now }).routines)).toHaveLength(LIMITS.routinesPerFile);
  });

  it("refuses a filter pattern longer than the limit", () => {
    const routines = { review: { prompt: "x", triggers: [{ github: { event: "pull_request", filters: { title: "a".repeat(LIMITS.patternLength + 1) } } }] } };
    expect(problems(file(routines))[0]).toContain(`pattern of ${LIMITS.patternLength + 1} characters; the limit is ${LIMITS.patternLength}`);
  });

  it("refuses a regular expression that needs backtracking, with a message that says so", () => {
    const routines = { review: { prompt: "x", triggers: [{ github: { event: "pull_request", filters: { labels: "/(a)\\1/" } } }] } };
    expect(problems(file(routines))[0]).toContain('invalid regular expression /(a)\\1/: backreferences are not supported');
  });
});

describe("cron sampling", () => {
  it("samples a rare expression within a bounded horizon, quickly", () => {
    const started = performance.now();
    // 29 February on a Monday: once in 28 years.
    for (let minute = 0; minute < 20; minute++) expect(shortestCronInterval(`${minute} 0 29 2 1`, "Europe/Berlin")).toBe(Number.POSITIVE_INFINITY);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("still finds the dense stretches of a rare day", () => {
    expect(shortestCronInterval("* * 29 2 *", "UTC")).toBe(60_000);
    expect(shortestCronInterval("0 23,0 * * *", "UTC")).toBe(3_600_000);
  });
});
