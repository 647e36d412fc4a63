// Small pages: sign-in, a new token shown once, and errors.
import type { ApiToken } from "../../../runs/api-tokens.js";
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import { page, repoPath } from "./layout.js";

export function signInPage(options: { configured: boolean; returnTo: string; problem?: string }): Html {
  const body = options.configured
    ? html`${options.problem ? html`<p class="notice bad" role="alert">${options.problem}</p>` : ""}
<p>Sign in with your GitHub account to see the routines and runs of the repositories you can access.</p>
<p><a class="button primary" href="/dashboard/auth/sign-in?return_to=${encodeURIComponent(options.returnTo)}">Sign in with GitHub</a></p>`
    : html`<p class="notice bad">Sign-in is not set up: the server has no <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code>.</p>
<p>Probot's setup page writes them to <code>.env</code> when it registers the app; for an app registered by hand, copy them from the app's settings on GitHub, set its callback URL to
<code>&lt;ROUTINES_PUBLIC_URL&gt;/dashboard/auth/callback</code>, and restart the server.</p>`;
  return page({ title: "Sign in" }, body);
}

export function tokenCreatedPage(session: DashboardSession, token: ApiToken, secret: string, fireUrl: string): Html {
  const curl = [
    `curl -X POST ${fireUrl} \\`,
    `  -H "Authorization: Bearer ${secret}" \\`,
    '  -H "Content-Type: application/json" \\',
    `  -d '{"text": "what the run should know"}'`,
  ].join("\n");
  return page(
    { title: "API token created", session, current: "home" },
    html`<p class="notice" role="status">This is the only time the token is shown: the server keeps only its hash. Copy it now.</p>
<dl>
  <dt>Routine</dt><dd>${token.routine} in <a href="${repoPath(token.repository)}">${token.repository.owner}/${token.repository.repo}</a></dd>
  <dt>Trigger id</dt><dd><code>${token.triggerId}</code></dd>
  <dt>URL</dt><dd><code>${fireUrl}</code></dd>
</dl>
<h2>Token</h2>
<p id="token-secret" class="secret">${secret}</p>
<p><button type="button" data-copy="token-secret">Copy token</button></p>
<h2>Start a run</h2>
<pre id="curl-example">${curl}</pre>
<p><button type="button" data-copy="curl-example">Copy curl command</button></p>
<p><a href="${repoPath(token.repository)}#routine-${token.routine}">Back to ${token.routine}</a></p>`,
  );
}

export function messagePage(status: number, message: string, session?: DashboardSession): Html {
  const title = { 400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Not possible", 413: "Too large", 415: "Unsupported form", 429: "Too many runs", 502: "GitHub did not answer" }[status] ?? "Error";
  return page({ title, ...(session ? { session } : {}) }, html`<p role="alert">${message}</p><p><a href="/dashboard">Back to the dashboard</a></p>`);
}
