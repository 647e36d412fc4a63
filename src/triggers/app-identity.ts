// The app's own bot login (`<slug>[bot]`), asked from GitHub once, so that events the app causes
// itself never start routines.
import type { Probot } from "probot";

export type AppLogin = () => Promise<string>;

export function appLoginOf(app: Pick<Probot, "auth">): AppLogin {
  let login: Promise<string> | undefined;
  return () => {
    login ??= app
      .auth()
      .then((octokit) => octokit.rest.apps.getAuthenticated())
      .then(({ data }) => `${data?.slug}[bot]`);
    // A failed lookup is asked again by the next event.
    login.catch(() => (login = undefined));
    return login;
  };
}

/** Whether the event's sender is this app; only bots are looked up. */
export async function sentByApp(sender: { login: string; type: string }, appLogin: AppLogin): Promise<boolean> {
  return sender.type === "Bot" && sender.login === (await appLogin());
}
