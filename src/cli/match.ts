// `routines match`: which routines an event would fire, and for the others the first reason why
// not. A dry run of trigger matching for "why didn't it run?".
import { formatPath } from "../config/problem.js";
import { GITHUB_EVENTS, type GithubEventName, type Routine } from "../config/schema.js";
import { eventFacts, PayloadError, type EventFacts } from "../triggers/event-facts.js";
import { matchEvent, type EventMatch } from "../triggers/match-event.js";
import { IssueCommentEvent, matchCommand, parseSlashCommand } from "../triggers/slash-command.js";
import { CliError, readInput, type Io } from "./io.js";
import { countErrors, loadConfigFile } from "./validate.js";

export const MATCH_EVENTS = [...GITHUB_EVENTS, "issue_comment"] as const;

export interface MatchArgs {
  config: string;
  event: string;
  payload: string;
  json: boolean;
  /** A pull request's changed files, for paths filters. */
  changedFiles?: string[];
}

function matchComment(routines: Record<string, Routine>, payload: unknown): { heading: string; result: EventMatch } {
  const parsed = IssueCommentEvent.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PayloadError(`not an issue_comment payload: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const { action, comment, issue, sender } = parsed.data;
  const onPullRequest = Boolean(issue.pull_request);
  const heading = `issue_comment.${action} by ${sender.login} on ${onPullRequest ? "pull request" : "issue"} #${issue.number}`;
  const result = matchCommand(routines, parseSlashCommand(comment.body), { onPullRequest });
  if (action === "created") return { heading, result };
  const reason = `only new comments run commands (this one was ${action})`;
  return { heading, result: { matched: [], skipped: [...result.matched, ...result.skipped].map(({ routine, trigger }) => ({ routine, trigger, reason })) } };
}

/** What the event is about, for the heading: the facts its filters read. */
function about(facts: EventFacts): string {
  const { issue, workflowRun: run, deployment } = facts;
  if (issue) return ` on issue #${issue.number} (labels: ${issue.labels.join(", ") || "none"})`;
  if (run) return `: workflow "${run.workflow}", ${run.conclusion ? `conclusion ${run.conclusion}` : `status ${run.status}`}, branch ${run.headBranch ?? "(none)"}, commit ${run.headSha}`;
  if (deployment) return `: environment "${deployment.environment}", state ${deployment.state}, commit ${deployment.sha}`;
  return "";
}

export async function match(args: MatchArgs, io: Io): Promise<number> {
  if (!(MATCH_EVENTS as readonly string[]).includes(args.event)) {
    throw new CliError(`--event must be one of ${MATCH_EVENTS.join(", ")}`, 2);
  }
  const text = await readInput(args.payload);
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${args.payload} is not JSON: ${(error as Error).message}`, 2);
  }
  const config = await loadConfigFile(args.config, io);
  if (countErrors(config) > 0) return 1;

  let heading: string;
  let result: EventMatch;
  try {
    if (args.event === "issue_comment") {
      ({ heading, result } = matchComment(config.routines, payload));
    } else {
      const facts = eventFacts(args.event as GithubEventName, payload);
      if (args.changedFiles) facts.changedFiles = { paths: args.changedFiles, complete: true };
      heading = `${args.event}.${facts.action} by ${facts.sender.login}${about(facts)}`;
      result = matchEvent(config.routines, facts);
    }
  } catch (error) {
    if (error instanceof PayloadError) throw new CliError(`${args.payload}: ${error.message}`, 2);
    throw error;
  }

  if (args.json) {
    io.out(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const where = (trigger: number) => formatPath(["triggers", trigger]);
  io.out(`${heading}\n`);
  for (const { routine, trigger } of result.matched) io.out(`${routine}: fires (${where(trigger)})\n`);
  for (const { routine, trigger, reason } of result.skipped) io.out(`${routine}: ${reason} (${where(trigger)})\n`);
  const mentioned = new Set([...result.matched, ...result.skipped].map(({ routine }) => routine));
  const others = Object.keys(config.routines).filter((routine) => !mentioned.has(routine));
  const kind = args.event === "issue_comment" ? "command" : "github";
  if (others.length > 0) io.out(`No ${kind} triggers: ${others.join(", ")}\n`);
  if (result.matched.length === 0) io.out("No routine fires.\n");
  return 0;
}
