// Webhook payloads as GitHub sends them: GitHub's own examples (@octokit/webhooks-examples), with
// the repository, installation, pull request and sender replaced by the fake GitHub's.
import { createRequire } from "node:module";
import type { FakeGitHub } from "./fake-github.js";

type Payload = any; // example payloads are read loosely; tests set the fields the server reads

const require = createRequire(import.meta.url);
const examples = require("@octokit/webhooks-examples") as Array<{ name: string; examples: Payload[] }>;

function example(event: string, action: string): Payload {
  const candidates = examples.find((entry) => entry.name === event)?.examples.filter((candidate) => candidate.action === action) ?? [];
  // base() sets the installation, so an example without one serves too (release.published has none).
  const found = candidates.find((candidate) => candidate.installation) ?? candidates[0];
  if (!found) throw new Error(`no example ${event}.${action}`);
  return structuredClone(found);
}

function base(github: FakeGitHub, fullName: string, sender: string, senderType = "User") {
  const repository = github.repository(fullName);
  return {
    repository: github.repositoryJson(repository),
    installation: { id: repository.installationId, node_id: `I_${repository.installationId}` },
    sender: github.userJson(sender, senderType),
  };
}

export async function pullRequestEvent(github: FakeGitHub, fullName: string, number: number, action: string, { sender, senderType }: { sender?: string; senderType?: string } = {}): Promise<Payload> {
  const pull = github.pullRequests.get(`${fullName.toLowerCase()}#${number}`);
  if (!pull) throw new Error(`no pull request ${fullName}#${number}`);
  const payload = example("pull_request", action === "synchronize" || action === "reopened" ? "opened" : action);
  const pullRequest = await github.pullJson(pull);
  return { ...payload, action, number, pull_request: { ...payload.pull_request, ...pullRequest }, ...base(github, fullName, sender ?? pull.user, senderType) };
}

export async function releaseEvent(github: FakeGitHub, fullName: string, release: { tag: string; name?: string; body?: string; target?: string }, sender = "octocat"): Promise<Payload> {
  const payload = example("release", "published");
  return {
    ...payload,
    release: {
      ...payload.release,
      tag_name: release.tag,
      name: release.name ?? release.tag,
      body: release.body ?? "",
      target_commitish: release.target ?? "main",
      draft: false,
      prerelease: false,
      author: github.userJson(sender),
    },
    ...base(github, fullName, sender),
  };
}

export function commentEvent(github: FakeGitHub, fullName: string, number: number, body: string, { sender = "octocat", senderType = "User", id = Math.floor(Math.random() * 1e9), onPullRequest = true } = {}): Payload {
  const payload = example("issue_comment", "created");
  return {
    ...payload,
    issue: { ...payload.issue, number, title: `#${number}`, ...(onPullRequest ? { pull_request: { url: `${github.apiUrl}/repos/${fullName}/pulls/${number}` } } : { pull_request: undefined }) },
    comment: { ...payload.comment, id, body, user: github.userJson(sender, senderType) },
    ...base(github, fullName, sender, senderType),
  };
}

export function checkRunRerequestedEvent(github: FakeGitHub, fullName: string, check: { id: number; name: string; head_sha: string; external_id?: string }, sender = "octocat"): Payload {
  const payload = example("check_run", "rerequested");
  return { ...payload, check_run: { ...payload.check_run, id: check.id, name: check.name, head_sha: check.head_sha, external_id: check.external_id ?? "" }, ...base(github, fullName, sender) };
}

export function pushEvent(github: FakeGitHub, fullName: string, push: { before: string; after: string; modified: string[] }, sender = "octocat"): Payload {
  const payload = examples.find((entry) => entry.name === "push")!.examples.find((candidate) => candidate.installation);
  const repository = github.repository(fullName);
  return {
    ...structuredClone(payload),
    ref: `refs/heads/${repository.defaultBranch}`,
    before: push.before,
    after: push.after,
    commits: [{ id: push.after, added: [], removed: [], modified: push.modified }],
    head_commit: { id: push.after, added: [], removed: [], modified: push.modified },
    ...base(github, fullName, sender),
  };
}

export function issuesEvent(
  github: FakeGitHub,
  fullName: string,
  issue: { number: number; title: string; body: string; labels?: string[]; author?: string },
  action = "opened",
  sender = issue.author ?? "octocat",
): Payload {
  const payload = example("issues", action);
  const author = issue.author ?? "octocat";
  return {
    ...payload,
    action,
    issue: {
      ...payload.issue,
      number: issue.number,
      title: issue.title,
      body: issue.body,
      user: github.userJson(author),
      labels: (issue.labels ?? []).map((name, index) => ({ id: index + 1, name, color: "ededed", default: false })),
      html_url: `${github.url}/${fullName}/issues/${issue.number}`,
    },
    ...base(github, fullName, sender),
  };
}

export function workflowRunEvent(
  github: FakeGitHub,
  fullName: string,
  run: { workflow: string; conclusion: string | null; headSha: string; headBranch: string; id?: number; pullRequests?: number[]; headRepository?: string },
  sender = "octocat",
): Payload {
  const payload = example("workflow_run", "completed");
  const { repository } = base(github, fullName, sender);
  const id = run.id ?? Math.floor(Math.random() * 1e9);
  return {
    ...payload,
    action: "completed",
    workflow: { ...payload.workflow, name: run.workflow },
    workflow_run: {
      ...payload.workflow_run,
      id,
      name: run.workflow,
      status: "completed",
      conclusion: run.conclusion,
      head_sha: run.headSha,
      head_branch: run.headBranch,
      html_url: `${github.url}/${fullName}/actions/runs/${id}`,
      pull_requests: (run.pullRequests ?? []).map((number) => ({ number })),
      repository,
      head_repository: run.headRepository ? { ...repository, full_name: run.headRepository } : repository,
    },
    ...base(github, fullName, sender),
  };
}

export function deploymentStatusEvent(
  github: FakeGitHub,
  fullName: string,
  deployment: { environment: string; state: string; sha: string; ref: string; id?: number; environmentUrl?: string },
  sender = "octocat",
): Payload {
  const payload = example("deployment_status", "created");
  const id = deployment.id ?? Math.floor(Math.random() * 1e9);
  return {
    ...payload,
    action: "created",
    deployment_status: { ...payload.deployment_status, state: deployment.state, environment: deployment.environment, environment_url: deployment.environmentUrl ?? "", target_url: "" },
    deployment: { ...payload.deployment, id, sha: deployment.sha, ref: deployment.ref, environment: deployment.environment },
    ...base(github, fullName, sender),
  };
}
