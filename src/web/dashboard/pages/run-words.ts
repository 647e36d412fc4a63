// A run's trigger, status and outcome in words and badges, shared by the runs list and the run page.
import type { RunRecord } from "../../../runs/store.js";
import { html, type Html } from "../../html.js";

export function triggerWords(run: RunRecord): string {
  const { trigger } = run;
  switch (trigger.kind) {
    case "github":
      return `${trigger.event}.${trigger.action} by ${trigger.sender}`;
    case "command":
      return `/routine command by ${trigger.author}`;
    case "schedule":
      return `${trigger.oneOff ? "one-off schedule" : "schedule"} for ${trigger.scheduledFor.replace("T", " ").slice(0, 16)} UTC`;
    case "api":
      return `API call (${trigger.triggerId})`;
    case "manual":
      return `Run now by ${trigger.user}`;
  }
}

export const statusBadge = (run: RunRecord): Html => html`<span class="badge s-${run.status}">${run.status}</span>`;

export const outcomeBadge = (run: RunRecord): Html =>
  run.outcome ? html`<span class="badge o-${run.outcome}">${run.outcome}</span>` : html`<span class="muted">${run.status === "completed" ? "unknown" : "—"}</span>`;

export const isActive = (run: RunRecord) => run.status === "queued" || run.status === "running";
