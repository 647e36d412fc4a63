// Triggers in words, for check summaries, the CLI and the dashboard.
import { commandName } from "./checks.js";
import { describeSchedule } from "./schedule.js";
import { DEFAULT_ACTIONS, type Trigger } from "./schema.js";

type FilterValue = string | string[] | boolean | { any?: string | string[]; all?: string | string[]; none?: string | string[] };

const list = (value: string | string[]) => (Array.isArray(value) ? value.join(" or ") : value);

function describeFilter(key: string, value: FilterValue): string {
  if (typeof value === "boolean") return `${key} ${value}`;
  if (typeof value === "string" || Array.isArray(value)) return `${key} ${list(value)}`;
  const parts = (["any", "all", "none"] as const).flatMap((mode) => {
    const labels = value[mode];
    if (labels === undefined) return [];
    const names = Array.isArray(labels) ? labels : [labels];
    return [`${{ any: "any of", all: "all of", none: "none of" }[mode]} ${names.join(", ")}`];
  });
  return `${key} ${parts.join(" and ")}`;
}

export function describeTrigger(trigger: Trigger, routineName: string): string {
  if (trigger.github) {
    const { event, actions, filters, forks } = trigger.github;
    const filterText = Object.entries(filters ?? {})
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => describeFilter(key, value as FilterValue));
    return [
      `${event} (${(actions ?? DEFAULT_ACTIONS[event]).join(", ")})`,
      filterText.length > 0 ? ` where ${filterText.join("; ")}` : "",
      forks ? ", forks included" : "",
    ].join("");
  }
  if (trigger.schedule) return describeSchedule(trigger.schedule);
  if ("api" in trigger) return "HTTP API: POST /api/v1/routines/<trigger-id>/fire";
  const command = commandName(trigger, routineName);
  const onIssues = typeof trigger.command === "object" && trigger.command?.issues;
  return `\`/routine run ${command}\` in pull request${onIssues ? " and issue" : ""} comments`;
}
