// `routines runs` and `routines runs show <id>`: recent runs, and one run with its transcript.
import { RUN_STATUSES as STATUSES, type RunRecord, type RunStatus } from "../runs/store.js";
import { costWords } from "../session/pricing.js";
import { CliError, type Io } from "./io.js";
import { age, table, withStore } from "./store.js";

function triggerText(run: RunRecord): string {
  const { trigger } = run;
  switch (trigger.kind) {
    case "github":
      return `${trigger.event}.${trigger.action}`;
    case "command":
      return `command by ${trigger.author}`;
    case "schedule":
      return trigger.oneOff ? "schedule (once)" : "schedule";
    case "api":
      return `api ${trigger.triggerId}`;
    case "manual":
      return `run now by ${trigger.user}`;
  }
}

export interface RunsOptions {
  limit?: string;
  repo?: string;
  routine?: string;
  status?: string;
}

export async function runs(args: string[], options: RunsOptions, io: Io): Promise<number> {
  const [action, id] = args;
  if (action === "show") {
    if (!id) throw new CliError("runs show needs a run id", 2);
    return withStore(io, async (store) => {
      const run = await store.getRun(id);
      if (!run) {
        io.err(`routines: no run ${id}\n`);
        return 1;
      }
      const lines = [
        `${run.id}  ${run.routine} in ${run.repository.owner}/${run.repository.repo}`,
        `  trigger   ${triggerText(run)}`,
        `  status    ${run.status}${run.reason ? ` (${run.reason})` : ""}`,
        `  outcome   ${run.outcome ?? "-"}`,
        `  created   ${run.createdAt.toISOString()}`,
        ...(run.startedAt ? [`  started   ${run.startedAt.toISOString()}`] : []),
        ...(run.finishedAt ? [`  finished  ${run.finishedAt.toISOString()}`] : []),
        ...(run.usage || run.costUsd !== undefined ? [`  cost      ${costWords(run)}`] : []),
        ...(run.usage ? [`  tokens    input ${run.usage.inputTokens}, cache read ${run.usage.cacheReadTokens}, cache write ${run.usage.cacheWriteTokens}, output ${run.usage.outputTokens}`] : []),
        ...(run.summary ? ["", run.summary] : []),
        "",
        "Transcript:",
      ];
      const events = await store.listEvents(id);
      for (const event of events) lines.push(`  ${event.seq}. ${event.at.toISOString()} ${event.kind} ${JSON.stringify(event.data)}`);
      if (events.length === 0) lines.push("  (no events)");
      io.out(`${lines.join("\n")}\n`);
      return 0;
    });
  }
  if (action !== undefined) throw new CliError(`unknown runs command "${action}"; use routines runs [show <id>]`, 2);
  const limit = options.limit === undefined ? 20 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a whole number above 0", 2);
  if (options.status !== undefined && !STATUSES.includes(options.status as RunStatus)) throw new CliError(`--status must be one of ${STATUSES.join(", ")}`, 2);
  const [owner, repo] = options.repo?.split("/") ?? [];
  if (options.repo !== undefined && (!owner || !repo)) throw new CliError("--repo must be owner/name", 2);
  return withStore(io, async (store) => {
    const list = await store.listRuns({
      limit,
      ...(owner && repo ? { repository: { owner, repo } } : {}),
      ...(options.routine ? { routine: options.routine } : {}),
      ...(options.status ? { status: options.status as RunStatus } : {}),
    });
    if (list.length === 0) {
      io.out("No runs yet.\n");
      return 0;
    }
    const cost = (run: RunRecord) => (run.usage || run.costUsd !== undefined ? costWords(run, { short: true }) : "-");
    const rows = list.map((run) => [run.id, run.routine, `${run.repository.owner}/${run.repository.repo}`, triggerText(run), run.status, run.outcome ?? "-", cost(run), age(run.createdAt)]);
    io.out(table([["RUN", "ROUTINE", "REPOSITORY", "TRIGGER", "STATUS", "OUTCOME", "COST", "AGE"], ...rows]));
    return 0;
  });
}
