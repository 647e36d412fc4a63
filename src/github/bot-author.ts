// The app's bot account as a commit author: "<slug>[bot]" with its noreply address, asked from
// GitHub once. The app's slug needs the app's own credentials (JWT); the bot user's id is read
// with an installation's token, since GitHub answers /users only to installation or user tokens.
import type { Probot } from "probot";
import type { Octokit } from "../config/read-config-file.js";

export type BotAuthor = (installationOctokit: Octokit) => Promise<{ name: string; email: string }>;

export function botAuthorOf(app: Pick<Probot, "auth">): BotAuthor {
  let author: Promise<{ name: string; email: string }> | undefined;
  return (installationOctokit) => {
    author ??= (async () => {
      const { data: self } = await (await app.auth()).rest.apps.getAuthenticated();
      const name = `${self?.slug}[bot]`;
      const { data: user } = await installationOctokit.rest.users.getByUsername({ username: name });
      return { name, email: `${user.id}+${name}@users.noreply.github.com` };
    })();
    author.catch(() => (author = undefined));
    return author;
  };
}
