// The dashboard's only style sheet and script, served from memory. The script is an enhancement:
// every page works without it but for the live transcript and the copy buttons.

export const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de;
  --accent: #0a58ca; --ok: #1a7f37; --bad: #b42318; --warn: #8a5a00; --focus: #0a58ca; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9ea7b3; --bg: #0d1117; --panel: #161b22; --line: #3d444d;
  --accent: #6cb6ff; --ok: #4ac26b; --bad: #ff7b72; --warn: #d29922; --focus: #6cb6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; }
.top { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; justify-content: space-between; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--panel); }
.top nav { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; }
.top nav a { text-decoration: none; padding: 4px 0; } .top nav a[aria-current] { font-weight: 600; border-bottom: 2px solid var(--accent); }
.brand { font-weight: 700; color: var(--fg) !important; }
.who { display: flex; gap: 8px; align-items: center; margin: 0; color: var(--muted); }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.6rem; margin: 8px 0 16px; word-break: break-word; } h2 { font-size: 1.25rem; margin-top: 28px; } h3 { font-size: 1.05rem; margin: 0 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 12px 0; background: var(--bg); }
.card > :first-child { margin-top: 0; } .card form + .table-wrap { margin-top: 12px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
.table-wrap { overflow-x: auto; }
button, .button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; min-height: 36px; }
button.primary, .button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
@media (prefers-color-scheme: dark) { button.primary, .button.primary { color: #0d1117; } }
button.danger { color: var(--bad); border-color: var(--bad); }
button.link { border: 0; background: none; color: var(--accent); padding: 0; min-height: 0; text-decoration: underline; }
label { display: block; font-weight: 600; margin: 8px 0 4px; }
input[type=text], select, textarea { font: inherit; padding: 6px 8px; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); max-width: 100%; }
textarea { width: 100%; min-height: 4.5em; }
.filters { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: flex-end; margin-bottom: 16px; }
.filters label { margin: 0 0 2px; font-size: .9rem; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; border: 1px solid currentColor; font-size: .85rem; white-space: nowrap; }
.s-completed, .o-succeeded { color: var(--ok); } .s-errored, .s-interrupted, .o-failed, .s-rejected { color: var(--bad); } .s-running, .s-queued { color: var(--accent); } .s-cancelled, .o-unknown { color: var(--warn); }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.facts > div { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.facts dt { font-size: .85rem; color: var(--muted); } .facts dd { margin: 0 0 6px; word-break: break-word; }
.problems li { font-family: ui-monospace, monospace; font-size: .9rem; }
.transcript { list-style: none; padding: 0; margin: 0; }
.transcript > li { border-left: 3px solid var(--line); padding: 6px 12px; margin: 8px 0; }
.transcript .assistant { border-color: var(--accent); white-space: pre-wrap; }
.transcript .tool { border-color: var(--muted); } .transcript .error { border-color: var(--bad); }
.transcript .meta { font-size: .85rem; color: var(--muted); }
pre { background: var(--panel); padding: 8px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; font-size: .85rem; margin: 4px 0; }
summary { cursor: pointer; }
.secret { font-family: ui-monospace, monospace; word-break: break-all; background: var(--panel); padding: 8px; border-radius: 6px; border: 1px dashed var(--warn); }
.notice { border-left: 4px solid var(--accent); padding: 8px 12px; background: var(--panel); }
.notice.bad { border-color: var(--bad); }
.inline { display: inline; }
.paging { display: flex; gap: 16px; margin: 12px 0; }
@media (max-width: 600px) { .hide-narrow { display: none; } main { padding: 10px; } th, td { padding: 6px 4px; } }
`;

export const SCRIPT = `
"use strict";
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const text = document.getElementById(copy.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(() => { copy.textContent = "Copied"; });
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
const live = document.querySelector("[data-live]");
if (live && window.EventSource) {
  let after = Number(live.dataset.after);
  const transcript = document.getElementById("transcript");
  const source = new EventSource(live.dataset.live + "?after=" + after);
  source.addEventListener("transcript", (message) => {
    const { seq, html } = JSON.parse(message.data);
    if (seq <= after) return;
    after = seq;
    document.getElementById("transcript-empty")?.remove();
    transcript.insertAdjacentHTML("beforeend", html);
  });
  source.addEventListener("status", (message) => {
    document.getElementById("run-state").outerHTML = JSON.parse(message.data).html;
  });
  source.addEventListener("end", () => { source.close(); live.removeAttribute("data-live"); document.getElementById("live-note")?.remove(); });
}
`;
