// `/routine` commands in issue and pull request comments: parsing, and which routine a
// `/routine run <name>` names. Only the first line of a new comment counts, so a command quoted
// (`> /routine …`) or shown in a code block never runs.
import { z } from "zod";
import { commandName } from "../config/checks.js";
import type { Routine } from "../config/schema.js";
import type { EventMatch } from "./match-event.js";

export type SlashCommand =
  | { kind: "run"; name: string; text: string }
  | { kind: "list" }
  | { kind: "help"; problem?: string };

/** The command in a comment's first line, or undefined when the comment is not a command. */
export function parseSlashCommand(body: string): SlashCommand | undefined {
  const [firstLine = "", ...rest] = body.split(/\r?\n/);
  // Up to three spaces of indent; four make a Markdown code block.
  const line = firstLine.replace(/^ {0,3}/, "").trimEnd();
  const match = /^\/routine(?:\s+(\S+))?(?:\s+(\S+))?(?:\s+([^]*))?$/.exec(line);
  if (!match) return undefined;
  const [, sub, name, inline = ""] = match;
  if (sub === undefined || sub === "help") return { kind: "help" };
  if (sub === "list") return { kind: "list" };
  if (sub !== "run") return { kind: "help", problem: `unknown command "${sub}"` };
  if (name === undefined) return { kind: "help", problem: "name the routine to run: /routine run <name>" };
  return { kind: "run", name, text: [inline, ...rest].join("\n").trim() };
}

export const IssueCommentEvent = z.object({
  action: z.string(),
  comment: z.object({ id: z.number(), body: z.string(), user: z.object({ login: z.string() }) }),
  issue: z.object({ number: z.number(), pull_request: z.object({}).passthrough().nullable().optional() }),
  sender: z.object({ login: z.string(), type: z.string() }),
});

export interface CommandPlace {
  /** Whether the comment is on a pull request (else on an issue). */
  onPullRequest: boolean;
}

export interface CommandTriggerRef {
  routine: string;
  index: number;
  /** The name it answers to in `/routine run <name>`. */
  name: string;
  /** Whether it also runs from issue comments. */
  onIssues: boolean;
}

export function* commandTriggers(routines: Record<string, Routine>): Generator<CommandTriggerRef> {
  for (const [routine, { triggers = [] }] of Object.entries(routines)) {
    for (const [index, trigger] of triggers.entries()) {
      const name = commandName(trigger, routine);
      if (name === undefined) continue;
      yield { routine, index, name, onIssues: typeof trigger.command === "object" && trigger.command?.issues === true };
    }
  }
}

/** Which command triggers a parsed `/routine run` fires, and why the other command triggers do not. */
export function matchCommand(routines: Record<string, Routine>, command: SlashCommand | undefined, place: CommandPlace): EventMatch {
  const result: EventMatch = { matched: [], skipped: [] };
  for (const { routine, index, name, onIssues } of commandTriggers(routines)) {
    let reason: string | undefined;
    if (command === undefined) reason = "the comment is not a /routine command";
    else if (command.kind !== "run") reason = `the comment asks for /routine ${command.kind}`;
    else if (command.name !== name) reason = `the comment runs "${command.name}", this trigger answers to "${name}"`;
    else if (!place.onPullRequest && !onIssues) reason = "the comment is on an issue; set issues: true to run there";
    if (reason === undefined) result.matched.push({ routine, trigger: index });
    else result.skipped.push({ routine, trigger: index, reason });
  }
  return result;
}
