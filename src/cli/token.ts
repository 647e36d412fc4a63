// `routines token create | list | revoke`: bearer tokens for api triggers.
import { NAME } from "../config/schema.js";
import { newApiToken } from "../runs/api-tokens.js";
import { CliError, type Io } from "./io.js";
import { table, withStore } from "./store.js";

const REPOSITORY = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)$/;

export async function token(args: string[], options: { repo?: string; routine?: string }, io: Io): Promise<number> {
  const [action, triggerId] = args;
  switch (action) {
    case "create": {
      const repo = REPOSITORY.exec(options.repo ?? "");
      if (!repo) throw new CliError("token create needs --repo owner/name", 2);
      if (!options.routine || !NAME.test(options.routine)) throw new CliError("token create needs --routine <name>", 2);
      return withStore(io, async (store, settings) => {
        const { token: secret, record } = newApiToken({ owner: repo[1]!, repo: repo[2]! }, options.routine!);
        await store.createApiToken(record);
        const url = `${settings.publicUrl}/api/v1/routines/${record.triggerId}/fire`;
        io.out(
          [
            `Created an API trigger for routine ${record.routine} in ${repo[0]}.`,
            "",
            `  trigger id  ${record.triggerId}`,
            `  URL         ${url}`,
            `  token       ${secret}`,
            "",
            "The token is shown only now: the server keeps only its hash. The routine needs an `api` trigger",
            "in .claude/routines.yml on the default branch. Start a run with:",
            "",
            `  curl -X POST ${url} \\`,
            `    -H "Authorization: Bearer ${secret}" \\`,
            '    -H "Content-Type: application/json" \\',
            `    -d '{"text": "what the run should know"}'`,
            "",
          ].join("\n"),
        );
        return 0;
      });
    }
    case "list":
      return withStore(io, async (store) => {
        const tokens = await store.listApiTokens();
        if (tokens.length === 0) {
          io.out("No API tokens. Create one with: routines token create --repo owner/name --routine <name>\n");
          return 0;
        }
        const rows = tokens.map((t) => [t.triggerId, `${t.repository.owner}/${t.repository.repo}`, t.routine, t.createdAt.toISOString(), t.revokedAt ? "revoked" : "active"]);
        io.out(table([["TRIGGER ID", "REPOSITORY", "ROUTINE", "CREATED", "STATE"], ...rows]));
        return 0;
      });
    case "revoke":
      if (!triggerId) throw new CliError("token revoke needs a trigger id (see routines token list)", 2);
      return withStore(io, async (store) => {
        if (!(await store.revokeApiToken(triggerId, new Date()))) {
          io.err(`routines: no active API token ${triggerId}\n`);
          return 1;
        }
        io.out(`Revoked ${triggerId}: its token no longer starts runs.\n`);
        return 0;
      });
    default:
      throw new CliError("use routines token create, list or revoke", 2);
  }
}
