// Everything around the server for one group of cases: a fake GitHub Enterprise Server, a fake
// Messages API, and the `.env` that points the server at them.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach } from "vitest";
import { privateKey } from "../../support/github.js";
import { MODEL_KEY, startFakeModel, type FakeModel, type FakeModelOptions } from "../../support/fake-model.js";
import { FakeGitHub, type FakeGitHubOptions } from "./fake-github.js";
import { ROOT, ServerProcess, type ServerOptions } from "./server-process.js";

export const APP_ID = 4242;
export const WEBHOOK_SECRET = "e2e-webhook-secret";

export interface World {
  github: FakeGitHub;
  model: FakeModel;
  /** The `.env` of a server wired to this world, with `extra` on top. */
  dotenv(extra?: Record<string, string>): Record<string, string>;
  startServer(options?: Partial<ServerOptions> & { extra?: Record<string, string> }): Promise<ServerProcess>;
  close(): Promise<void>;
}

export async function startWorld(options: Partial<FakeGitHubOptions> & { model?: FakeModelOptions } = {}): Promise<World> {
  const { model: modelOptions, ...githubOptions } = options;
  const github = await new FakeGitHub({ appId: APP_ID, privateKey, ...githubOptions }).start();
  const model = await startFakeModel([], modelOptions);
  const servers: ServerProcess[] = [];
  const dotenv = (extra: Record<string, string> = {}) => ({
    APP_ID: String(APP_ID),
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    ANTHROPIC_API_KEY: MODEL_KEY,
    ANTHROPIC_BASE_URL: model.url,
    LOG_LEVEL: "debug",
    LOG_FORMAT: "json",
    ...extra,
  });
  return {
    github,
    model,
    dotenv,
    async startServer({ extra, ...rest } = {}) {
      const server = await ServerProcess.start({ dotenv: dotenv(extra), ...rest });
      servers.push(server);
      return server;
    },
    async close() {
      for (const server of servers) {
        await server.stop().catch(() => undefined);
        server.killGroup();
      }
      await github.close();
      await model.close();
    },
  };
}

/** A routines.yml from an object, as YAML's JSON subset. */
export const routinesYml = (routines: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({ version: 1, ...extra, routines }, null, 2);

/** Whether a comment is a routine's status comment (its hidden marker), as opposed to what a run posted. */
export const isStatusComment = (comment: { body: string }) => comment.body.includes("<!-- routines:status:");

/** A model turn that calls one tool. */
export const call = (name: string, input: unknown) => ({ content: [{ type: "tool_use" as const, name, input }] });
export const outcome = (summary = "Done.", result: "succeeded" | "failed" = "succeeded") => call("report_outcome", { outcome: result, summary });

/**
 * When a case fails, what the server printed and what the fakes received go to
 * test/artifacts/e2e/<case>.log, so a failure in CI can be read without running it again.
 */
export function keepDiagnostics(get: () => { world?: World; servers: Array<ServerProcess | undefined> }): void {
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail") return;
    const { world, servers } = get();
    const name = context.task.name.replace(/[^A-Za-z0-9]+/g, "-").slice(0, 80);
    const dir = join(ROOT, "test", "artifacts", "e2e");
    await mkdir(dir, { recursive: true });
    const requests = (world?.github.requests ?? []).map((r) => `${r.status ?? "..."} ${r.method} ${r.path}${r.query.size ? `?${r.query}` : ""} [${r.auth.kind}${"why" in r.auth ? `: ${r.auth.why}` : ""}]`);
    const model = (world?.model.requests ?? []).map((r, i) => `model request ${i + 1}: ${JSON.stringify(r.body.messages?.at(-1)).slice(0, 400)}`);
    const text = [
      ...servers.flatMap((server, i) => (server ? [`=== server ${i + 1} output`, server.output()] : [])),
      "=== GitHub requests",
      ...requests,
      "=== model requests",
      ...model,
    ].join("\n");
    await writeFile(join(dir, `${name}.log`), text);
    console.error(`diagnostics of the failed case: test/artifacts/e2e/${name}.log`);
  });
}
