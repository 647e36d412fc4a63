import { describe, expect, it } from "vitest";
import { validateRoutines } from "../../src/config/validate.js";
import { matchCommand, parseSlashCommand } from "../../src/triggers/slash-command.js";

describe("parseSlashCommand", () => {
  it.each([
    ["/routine run review", { kind: "run", name: "review", text: "" }],
    ["/routine run review focus on the auth changes", { kind: "run", name: "review", text: "focus on the auth changes" }],
    ["/routine run review\nAlso check the migrations.\n", { kind: "run", name: "review", text: "Also check the migrations." }],
    ["   /routine run review", { kind: "run", name: "review", text: "" }],
    ["/routine list", { kind: "list" }],
    ["/routine help", { kind: "help" }],
    ["/routine", { kind: "help" }],
    ["/routine run", { kind: "help", problem: "name the routine to run: /routine run <name>" }],
    ["/routine deploy now", { kind: "help", problem: 'unknown command "deploy"' }],
  ])("%j", (body, command) => {
    expect(parseSlashCommand(body)).toEqual(command);
  });

  it.each([
    ["text before the command", "Looks good!\n/routine run review"],
    ["a quoted command", "> /routine run review\nThis is what you asked for."],
    ["a command in a fenced code block", "```\n/routine run review\n```"],
    ["a command in an indented code block", "    /routine run review"],
    ["another slash command", "/routines run review"],
    ["prose that starts like one", "/routinely we check this"],
  ])("ignores %s", (_, body) => {
    expect(parseSlashCommand(body)).toBeUndefined();
  });
});

describe("matchCommand", () => {
  const { routines } = validateRoutines(
    [
      "version: 1",
      "routines:",
      "  review:",
      "    prompt: Review.",
      "    triggers:",
      "      - command:",
      "  triage:",
      "    prompt: Triage.",
      "    triggers:",
      "      - command: { name: fix, issues: true }",
    ].join("\n"),
  );

  it("fires the routine whose command is named, on pull requests", () => {
    expect(matchCommand(routines, parseSlashCommand("/routine run review"), { onPullRequest: true })).toEqual({
      matched: [{ routine: "review", trigger: 0 }],
      skipped: [{ routine: "triage", trigger: 0, reason: 'the comment runs "review", this trigger answers to "fix"' }],
    });
  });

  it("fires on issues only where the trigger allows it", () => {
    expect(matchCommand(routines, parseSlashCommand("/routine run review"), { onPullRequest: false }).skipped[0]).toEqual({
      routine: "review",
      trigger: 0,
      reason: "the comment is on an issue; set issues: true to run there",
    });
    expect(matchCommand(routines, parseSlashCommand("/routine run fix"), { onPullRequest: false }).matched).toEqual([{ routine: "triage", trigger: 0 }]);
  });

  it("fires nothing for comments that are not run commands", () => {
    expect(matchCommand(routines, parseSlashCommand("nice work"), { onPullRequest: true }).skipped[0]?.reason).toBe("the comment is not a /routine command");
    expect(matchCommand(routines, parseSlashCommand("/routine list"), { onPullRequest: true }).skipped[0]?.reason).toBe("the comment asks for /routine list");
  });
});
