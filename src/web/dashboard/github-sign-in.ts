// Sign-in with GitHub through the app's own OAuth credentials (the user-to-server web flow).
// The user's token is used once, at sign-in, to ask GitHub which of the app's installations and
// repositories the user can access and with what permission; it is not kept.
import { exchangeWebFlowCode, getWebFlowAuthorizationUrl } from "@octokit/oauth-methods";
import type { Octokit } from "../../config/read-config-file.js";
import type { Viewer, ViewerInstallation, ViewerRepository } from "./viewer.js";

/** Octokit's request function, as oauth-methods takes it. */
type RequestInterface = NonNullable<Parameters<typeof exchangeWebFlowCode>[0]["request"]>;

export interface OAuthCredentials {
  clientId: string;
  clientSecret: string;
}

export class SignInError extends Error {
  override name = "SignInError";
}

interface InstallationData {
  id: number;
  account: { login?: string; type?: string } | null;
}

interface RepositoryData {
  name: string;
  owner: { login: string };
  private: boolean;
  permissions?: { admin?: boolean; maintain?: boolean; push?: boolean };
}

export class GitHubSignIn {
  constructor(
    private readonly credentials: OAuthCredentials,
    private readonly options: {
      /** Where GitHub sends the user back: <public url>/dashboard/auth/callback. */
      redirectUrl: string;
      /** A client for the user's token. */
      octokitForToken(token: string): Octokit;
      /** GitHub's request function, pointed at GitHub Enterprise Server when the app is there. */
      request?: RequestInterface;
    },
  ) {}

  authorizeUrl(state: string): string {
    return getWebFlowAuthorizationUrl({
      clientType: "github-app",
      clientId: this.credentials.clientId,
      redirectUrl: this.options.redirectUrl,
      state,
      // Signing in to a team's dashboard is no place to create a GitHub account.
      allowSignup: false,
      ...(this.options.request ? { request: this.options.request } : {}),
    }).url;
  }

  /** Exchanges the code GitHub sent back, and reads what the user can access. */
  async viewer(code: string): Promise<Viewer> {
    let token: string;
    try {
      const { authentication } = await exchangeWebFlowCode({
        clientType: "github-app",
        ...this.credentials,
        code,
        redirectUrl: this.options.redirectUrl,
        ...(this.options.request ? { request: this.options.request } : {}),
      });
      token = authentication.token;
    } catch (error) {
      throw new SignInError(`GitHub did not accept the sign-in code (${(error as Error).message}); sign in again`);
    }
    const octokit = this.options.octokitForToken(token);
    const { data: user } = await octokit.rest.users.getAuthenticated();
    const installations = (await octokit.paginate("GET /user/installations", { per_page: 100 })) as unknown as InstallationData[];
    return {
      login: user.login,
      ...(user.avatar_url ? { avatarUrl: user.avatar_url } : {}),
      installations: await Promise.all(installations.map((installation) => this.#installation(octokit, user.login, installation))),
    };
  }

  async #installation(octokit: Octokit, login: string, { id, account }: InstallationData): Promise<ViewerInstallation> {
    const repositories = (await octokit.paginate("GET /user/installations/{installation_id}/repositories", { installation_id: id, per_page: 100 })) as unknown as RepositoryData[];
    const accountLogin = account?.login ?? "";
    const accountType = account?.type === "Organization" ? "Organization" : "User";
    return {
      id,
      account: accountLogin,
      accountType,
      admin: accountType === "User" ? accountLogin.toLowerCase() === login.toLowerCase() : await isOrganizationOwner(octokit, accountLogin),
      repositories: repositories.map(
        (repository): ViewerRepository => ({
          owner: repository.owner.login,
          repo: repository.name,
          private: repository.private,
          write: Boolean(repository.permissions?.admin || repository.permissions?.maintain || repository.permissions?.push),
        }),
      ),
    };
  }
}

/** GitHub answers only when the app may read members (organization permission "Members: read"). */
async function isOrganizationOwner(octokit: Octokit, org: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.orgs.getMembershipForAuthenticatedUser({ org });
    return data.role === "admin" && data.state === "active";
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 403 || status === 404) return false;
    throw error;
  }
}
