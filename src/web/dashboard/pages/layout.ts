// The frame of every dashboard page: landmarks, navigation, the signed-in user and sign-out.
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";

export const ASSET_VERSION = "1";

export interface PageOptions {
  title: string;
  session?: DashboardSession;
  /** Which navigation link is the current page. */
  current?: "home" | "runs" | "findings";
}

export function page({ title, session, current }: PageOptions, body: Html): Html {
  const link = (href: string, text: string, name: PageOptions["current"]) =>
    html`<a href="${href}"${current === name ? html` aria-current="page"` : ""}>${text}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Routines</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css?v=${ASSET_VERSION}">
<script src="/dashboard/assets/dashboard.js?v=${ASSET_VERSION}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <nav aria-label="Main">
    <a class="brand" href="/dashboard">Routines</a>
    ${session ? [link("/dashboard", "Repositories", "home"), link("/dashboard/runs", "Runs", "runs"), link("/dashboard/findings", "Findings", "findings")] : ""}
  </nav>
  ${
    session
      ? html`<form class="who" method="post" action="/dashboard/auth/sign-out">
    <span>Signed in as <strong>${session.viewer.login}</strong></span>
    <input type="hidden" name="_csrf" value="${session.csrf}">
    <button type="submit" class="link">Sign out</button>
  </form>`
      : ""
  }
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** The hidden field every state-changing form carries. */
export const csrfField = (session: DashboardSession) => html`<input type="hidden" name="_csrf" value="${session.csrf}">`;

export const formatTime = (date: Date | undefined) => (date ? html`<time datetime="${date.toISOString()}">${date.toISOString().replace("T", " ").slice(0, 19)} UTC</time>` : "—");

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m ${seconds % 60}s` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export const repoPath = ({ owner, repo }: { owner: string; repo: string }) => `/dashboard/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
