// `/routine` comments → replies, and RunRequests for `/routine run <name>` from people who may
// write to the repository. A run started on a pull request is answered by its routine's status
// comment (github/status-comments.ts) rather than a reply of its own. Reactions and replies are recorded in the store under a key of the
// delivery's, so a delivery handled again records nothing new; the reply outbox sends them.
import type { Context } from "probot";
import { routineFacts } from "../config/environment-of.js";
import { isError } from "../config/problem.js";
import type { Routine } from "../config/schema.js";
import type { WritePermissions } from "../github/permissions.js";
import type { AdmissionResult } from "../runs/admission.js";
import type { ReplyEntry } from "../runs/store.js";
import { keepsStatusComment, type RunRequest } from "../run-request.js";
import { sentByApp } from "./app-identity.js";
import { installationOf, type TriggerDeps } from "./github-events.js";
import { commandTriggers, parseSlashCommand, type CommandTriggerRef } from "./slash-command.js";
import { pullRequestContextOf } from "./event-facts.js";

export interface CommandDeps extends TriggerDeps {
  permissions: WritePermissions;
  runUrl: (runId: string) => string;
  /** Records a reaction or reply for sending; one per key. */
  recordReply: (entry: ReplyEntry) => Promise<void>;
}

const HELP = [
  "**Routines commands**",
  "",
  "- `/routine run <name> [instructions]` runs a routine here; text after the name reaches it as extra instructions.",
  "- `/routine list` lists the routines that can run here.",
  "- `/routine help` shows this help.",
  "",
  "Only the first line of a new comment is read as a command.",
].join("\n");

/** Routines with a command trigger usable here, by command name. */
function runnable(routines: Record<string, Routine>, onPullRequest: boolean): Map<string, CommandTriggerRef> {
  const commands = new Map<string, CommandTriggerRef>();
  for (const trigger of commandTriggers(routines)) {
    if ((onPullRequest || trigger.onIssues) && !commands.has(trigger.name)) commands.set(trigger.name, trigger);
  }
  return commands;
}

const codeList = (names: Iterable<string>) => [...names].map((name) => `\`${name}\``).join(", ");

/** Handles a new comment; resolves to the admission of the run it started, if any. */
export async function handleComment(context: Context<"issue_comment.created">, deps: CommandDeps): Promise<AdmissionResult | undefined> {
  const { comment, issue, sender } = context.payload;
  const command = parseSlashCommand(comment.body);
  const installationId = installationOf(context.payload);
  if (!command || installationId === undefined || (await sentByApp(sender, deps.appLogin))) return undefined;

  const repository = context.repo();
  const recorded = { installationId, repository, issueNumber: issue.number };
  // A delivery answers with at most one reaction and one reply: the delivery id keys each.
  const reply = (body: string) => deps.recordReply({ ...recorded, key: `${context.id}:reply`, write: { kind: "comment", body } });
  if (!(await deps.permissions.canWrite(context.octokit, repository, sender.login))) {
    await reply(`@${sender.login}, only people with write access to this repository can use \`/routine\` commands, so nothing was started.`);
    return undefined;
  }

  const config = await deps.routines.load(context.octokit, repository);
  const onPullRequest = Boolean(issue.pull_request);
  const commands = config.found ? runnable(config.routines, onPullRequest) : new Map();
  const errors = config.found ? config.problems.filter(isError).length : 0;
  const configNote = !config.found
    ? "\n\nThis repository has no `.claude/routines.yml` on its default branch."
    : errors > 0
      ? `\n\n\`.claude/routines.yml\` has ${errors} error${errors === 1 ? "" : "s"}; routines with errors cannot run. Run \`routines validate\` or see the \`routines/config\` check.`
      : "";
  const available = commands.size > 0 ? `Routines that can run here: ${codeList(commands.keys())}.` : "No routine can run here: add `- command: <name>` to a routine's triggers.";

  if (command.kind === "help") {
    await reply(`${command.problem ? `${command.problem}.\n\n` : ""}${HELP}\n\n${available}${configNote}`);
    return undefined;
  }
  if (command.kind === "list") {
    await reply(`${available}${configNote}`);
    return undefined;
  }
  const target = commands.get(command.name);
  if (!target || !config.found) {
    await reply(`There is no routine \`${command.name}\` to run here. ${available}${configNote}`);
    return undefined;
  }

  await deps.recordReply({ ...recorded, key: `${context.id}:reaction`, write: { kind: "reaction", commentId: comment.id, content: "eyes" } });
  const request: RunRequest = {
    routine: target.routine,
    repository,
    installationId,
    configSha: config.sha,
    trigger: { kind: "command", index: target.index, deliveryId: context.id, commentId: comment.id, author: sender.login, issueNumber: issue.number },
    context: { withoutSecrets: false },
  };
  if (command.text) request.context.extraInstructions = command.text;
  if (onPullRequest) {
    const { data } = await context.octokit.rest.pulls.get({ ...repository, pull_number: issue.number });
    const pullRequest = pullRequestContextOf(data);
    request.context.pullRequest = pullRequest;
    request.context.withoutSecrets = pullRequest.fork !== undefined;
  }
  Object.assign(request.context, routineFacts(config.routines[target.routine], config.environments, request.context.withoutSecrets));
  const result = await deps.admission.admit(request);
  context.log.info({ routine: target.routine, status: result.status }, "run requested by command");
  // A duplicate is this delivery's own run, handled again: its reply may not have been recorded yet.
  const started = result.status === "queued" ? result.run.id : result.status === "duplicate" ? result.runId : undefined;
  // On a pull request the routine's status comment says it, and goes on saying how the run goes.
  if (started && !keepsStatusComment(request)) await reply(`Started \`${target.routine}\` as [${started}](${deps.runUrl(started)}).`);
  if (result.status === "rejected") await reply(`\`${target.routine}\` was not started: ${result.reason}.`);
  return result;
}
