// A run's transcript, one list item per recorded event: the assistant's text, tool calls with
// their inputs, results folded when long, and the session's milestones.
import type { TranscriptEvent } from "../../../runs/store.js";
import { PUBLISHING_TOOLS } from "../../../session/github-tools.js";
import { formatUsd } from "../../../session/pricing.js";
import { html, type Html } from "../../html.js";
import { formatDuration } from "./layout.js";

const FOLD_CHARS = 1200;
const FOLD_LINES = 15;

type Data = Record<string, unknown>;

const text = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

function folded(summary: string, body: string): Html {
  const lines = body.split("\n").length;
  if (body.length <= FOLD_CHARS && lines <= FOLD_LINES) return html`<pre>${body}</pre>`;
  return html`<details><summary>${summary} (${lines} lines, ${body.length} characters)</summary><pre>${body}</pre></details>`;
}

function usageText(usage: unknown): string {
  if (!usage || typeof usage !== "object") return "";
  const u = usage as Record<string, number>;
  const input = u.inputTokens ?? u.input ?? 0;
  const cacheRead = u.cacheReadTokens ?? u.cacheRead ?? 0;
  const output = u.outputTokens ?? u.output ?? 0;
  return `${input} input, ${cacheRead} cached, ${output} output tokens`;
}

/** "; $0.012 (run $0.31)" for a turn, "; cost $0.31" for the session; nothing when the price is unknown. */
function costText(cost: unknown, total?: unknown): string {
  if (typeof cost !== "number") return "";
  return typeof total === "number" ? `; ${formatUsd(cost)} (run ${formatUsd(total)})` : `; cost ${formatUsd(cost)}`;
}

function body(kind: string, data: Data): { className: string; content: Html } {
  switch (kind) {
    case "assistant":
      return { className: "assistant", content: html`${text(data.text).trim()}` };
    case "tool_call":
      return { className: "tool", content: html`<div class="meta">Tool call</div><strong>${text(data.name)}</strong>${folded("Input", text(data.input ?? {}))}` };
    case "tool_result":
      return {
        className: data.isError ? "tool error" : "tool",
        content: html`<div class="meta">${data.isError ? "Tool error" : "Tool result"}: ${text(data.name)}</div>${folded("Result", text(data.output ?? ""))}`,
      };
    case "model_response":
      return { className: "meta", content: html`Model turn ${text(data.turn)}: ${text(data.stopReason)}; ${usageText(data.usage)}${costText(data.costUsd, data.totalCostUsd)}` };
    case "session_start": {
      const connectors = Array.isArray(data.connectors) && data.connectors.length > 0 ? `; connectors: ${data.connectors.join(", ")}` : "";
      const warnings = Array.isArray(data.warnings) ? data.warnings.map((warning) => html`<div class="meta">⚠ ${text(warning)}</div>`) : [];
      return { className: "meta", content: html`Session started with ${text(data.model)}${connectors}${warnings}` };
    }
    case "cancel_requested":
      return { className: "meta", content: html`Cancel requested: ${text(data.reason)}` };
    case "system_note":
      return { className: "meta", content: html`Note to the agent: ${text(data.text)}` };
    case "setup_start":
      return { className: "meta", content: html`Setup script started${folded("Script", text(data.script ?? ""))}` };
    case "setup_end":
      return data.failed
        ? { className: "error", content: html`Setup failed${folded("Error", text(data.error ?? ""))}` }
        : { className: "meta", content: html`Setup ${data.cached ? "restored from the cache" : "done"}${typeof data.durationMs === "number" ? ` in ${formatDuration(data.durationMs)}` : ""}` };
    case "session_end":
      return {
        className: "meta",
        content: html`Session ended: ${text(data.stopReason)}${data.detail ? html` (${text(data.detail)})` : ""}; outcome ${text(data.outcome)}; ${usageText(data.usage)}${costText(data.costUsd)}`,
      };
    default:
      return { className: "meta", content: html`${kind}${folded("Data", text(data))}` };
  }
}

export function transcriptItem(event: TranscriptEvent): Html {
  const data = (event.data && typeof event.data === "object" ? event.data : { value: event.data }) as Data;
  const { className, content } = body(event.kind, data);
  return html`<li class="${className}" id="event-${event.seq}" data-seq="${event.seq}">${content}</li>`;
}

/**
 * Links the session posted: pull requests it opened, reviews and comments, as the GitHub tools
 * reported them. Only those tools' results count: anything else (a command's output, a
 * connector's answer) is text the model or the repository controls.
 */
export function postedLinks(events: TranscriptEvent[]): string[] {
  const links = new Set<string>();
  for (const event of events) {
    if (event.kind !== "tool_result") continue;
    const data = event.data as Data;
    if (data.isError || typeof data.output !== "string" || !PUBLISHING_TOOLS.has(String(data.name))) continue;
    for (const match of data.output.matchAll(/https?:\/\/[^\s)]+\/(?:pull|issues)\/\d+[^\s)]*/g)) links.add(match[0].replace(/[.,]$/, ""));
  }
  return [...links];
}
