// The app's bot account as a commit author: "<slug>[bot]" with its noreply address, asked from
// GitHub once.
import type { Probot } from "probot";

export type BotAuthor = () => Promise<{ name: string; email: string }>;

export function botAuthorOf(app: Pick<Probot, "auth">): BotAuthor {
  let author: Promise<{ name: string; email: string }> | undefined;
  return () => {
    author ??= (async () => {
      const octokit = await app.auth();
      const { data: self } = await octokit.rest.apps.getAuthenticated();
      const name = `${self?.slug}[bot]`;
      const { data: user } = await octokit.rest.users.getByUsername({ username: name });
      return { name, email: `${user.id}+${name}@users.noreply.github.com` };
    })();
    author.catch(() => (author = undefined));
    return author;
  };
}
