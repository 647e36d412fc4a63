// The repositories a user can reach, by installation, with each installation's kill switch.
import { html, type Html } from "../../html.js";
import type { DashboardSession } from "../sessions.js";
import type { ViewerInstallation } from "../viewer.js";
import { csrfField, page, repoPath } from "./layout.js";

export interface HomeInstallation {
  installation: ViewerInstallation;
  disabled: boolean;
}

function killSwitch(session: DashboardSession, { installation, disabled }: HomeInstallation): Html {
  const state = disabled
    ? html`<p class="notice bad" id="state-${installation.id}"><strong>All routines are off</strong> for ${installation.account}: nothing starts until they are turned on.</p>`
    : html`<p class="muted" id="state-${installation.id}">Routines are on for ${installation.account}.</p>`;
  if (!installation.admin) return state;
  return html`${state}<form method="post" action="/dashboard/installations/${installation.id}/kill-switch"
    data-confirm="${disabled ? `Turn routines back on for ${installation.account}?` : `Turn off every routine of ${installation.account}? Queued runs stay queued; nothing new starts.`}">
  ${csrfField(session)}<input type="hidden" name="disabled" value="${disabled ? "false" : "true"}">
  <button type="submit" class="${disabled ? "primary" : "danger"}">${disabled ? "Turn routines on" : "Turn off all routines"}</button>
</form>`;
}

export function homePage(session: DashboardSession, installations: HomeInstallation[]): Html {
  const body =
    installations.length === 0
      ? html`<p>GitHub lists no installation of this app that you can access. Install the app on an account or ask an owner to add you to a repository where it is installed.</p>`
      : installations.map(
          (entry) => html`<section class="card" aria-labelledby="installation-${entry.installation.id}">
  <h2 id="installation-${entry.installation.id}">${entry.installation.account} <span class="muted">(${entry.installation.accountType === "Organization" ? "organization" : "user"})</span></h2>
  ${killSwitch(session, entry)}
  ${
    entry.installation.repositories.length === 0
      ? html`<p class="muted">No repositories of this installation are visible to you.</p>`
      : html`<div class="table-wrap"><table>
    <thead><tr><th scope="col">Repository</th><th scope="col">Your access</th><th scope="col">Runs</th></tr></thead>
    <tbody>${entry.installation.repositories.map(
      (repository) => html`<tr>
      <td><a href="${repoPath(repository)}">${repository.owner}/${repository.repo}</a>${repository.private ? html` <span class="muted">(private)</span>` : ""}</td>
      <td>${repository.write ? "write" : "read"}</td>
      <td><a href="/dashboard/runs?repository=${encodeURIComponent(`${repository.owner}/${repository.repo}`)}">runs<span class="visually-hidden"> of ${repository.owner}/${repository.repo}</span></a></td>
    </tr>`,
    )}</tbody></table></div>`
  }
</section>`,
        );
  return page({ title: "Repositories", session, current: "home" }, html`${body}`);
}
