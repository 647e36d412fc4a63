// A run's GitHub side for the GitHub tools' unit tests: acme/app with a read-shared acme/lib and a
// write-shared acme/docs, each with a client of its own token, all talking to nock.
import type { GitHubRun } from "../../../src/session/github-run.js";
import { GitHubWrites } from "../../../src/session/github-writes.js";
import { createRedactor } from "../../../src/session/redact.js";
import type { Tool } from "../../../src/session/define-tool.js";
import { TestOctokit } from "../../support/github.js";

export const TOKEN = "ghs_own_token_0123456789";
export const READ_TOKEN = "ghs_read_token_0123456789";
export const WRITE_TOKEN = "ghs_write_token_0123456789";
export const SECRET = "sentry-secret-value-42";

export function githubRun(overrides: Partial<GitHubRun> = {}, maxWrites = 20): GitHubRun {
  const writes = new GitHubWrites(maxWrites);
  const redact = createRedactor([TOKEN, READ_TOKEN, WRITE_TOKEN, SECRET]);
  const base = {
    dir: "/nonexistent",
    defaultBranch: "main",
    routine: "triage",
    runId: "run_00000000000000000001",
    allowUnrestrictedBranchPushes: false,
    author: { name: "bot", email: "bot@example.com" },
    redact,
    writes,
  };
  const docs: GitHubRun = { ...base, octokit: new TestOctokit({ auth: { token: WRITE_TOKEN } }), token: WRITE_TOKEN, repository: { owner: "acme", repo: "docs" }, url: "https://github.com/acme/docs.git" };
  return {
    ...base,
    octokit: new TestOctokit({ auth: { token: TOKEN } }),
    token: TOKEN,
    repository: { owner: "acme", repo: "app" },
    url: "https://github.com/acme/app.git",
    issueNumber: 9,
    others: [
      { name: "acme/lib", access: "read", octokit: new TestOctokit({ auth: { token: READ_TOKEN } }) },
      { name: "acme/docs", access: "write", octokit: docs.octokit, run: docs },
    ],
    ...overrides,
  };
}

export const call = (tool: Tool, input: unknown) => tool.run(input, { root: "/", env: {}, signal: new AbortController().signal });

/** An issue as GitHub's REST API returns it, with the fields the tools read. */
export const issueJson = (number: number, fields: Record<string, unknown> = {}) => ({
  number,
  title: `Issue ${number}`,
  body: "Body",
  state: "open",
  state_reason: null,
  labels: [],
  assignees: [],
  user: { login: "octocat" },
  comments: 0,
  updated_at: "2026-11-20T10:00:00Z",
  html_url: `https://github.com/acme/app/issues/${number}`,
  ...fields,
});
