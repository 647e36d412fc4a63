import { describe, expect, it } from "vitest";
import { eventFacts, PayloadError } from "../../src/triggers/event-facts.js";
import { webhookExamples, webhookExampleWhere } from "../support/github.js";

type Payload = any; // GitHub's example payloads, read loosely at the test boundary

// Most of these examples have no installation, which facts do not read.
const realPayloads = webhookExamples;
const realPayload = webhookExampleWhere;

describe("facts of issues events", () => {
  it.each(realPayloads("issues", "opened").map((payload, index) => [index, payload] as const))("reads GitHub's issues.opened example %i", (_, payload) => {
    const facts = eventFacts("issues", payload);
    expect(facts).toMatchObject({
      event: "issues",
      action: "opened",
      sender: { login: "Codertocat", type: "User" },
      text: { author: "Codertocat", title: "Spelling error in the README file", body: payload.issue.body ?? "" },
      labels: ["bug"],
      issue: { number: 1, title: "Spelling error in the README file", author: "Codertocat", labels: ["bug"], url: "https://github.com/Codertocat/Hello-World/issues/1" },
    });
    expect(facts.issue!.body).toBe(payload.issue.body ?? "");
    expect(facts.pullRequest).toBeUndefined();
  });

  it("reads issues.labeled, whose labels include the new one", () => {
    const facts = eventFacts("issues", realPayload("issues", "labeled"));
    expect(facts.action).toBe("labeled");
    expect(facts.labels).toEqual(["bug"]);
  });
});

describe("facts of workflow_run events", () => {
  it("reads GitHub's workflow_run.completed examples: the workflow's name, conclusion, branch, commit and pull requests", () => {
    const payload = realPayload("workflow_run", "completed", (candidate) => candidate.workflow_run.pull_requests.length > 0);
    const facts = eventFacts("workflow_run", payload);
    expect(facts).toMatchObject({
      event: "workflow_run",
      action: "completed",
      text: { workflow: "test", conclusion: "success", branch: "master" },
      workflowRun: {
        id: payload.workflow_run.id,
        workflow: "test",
        event: "repository_dispatch",
        status: "completed",
        conclusion: "success",
        headSha: "3484a3fb816e0859fd6e1cea078d76385ff50625",
        headBranch: "master",
        url: payload.workflow_run.html_url,
        pullRequests: [2],
      },
    });
    expect(facts.foreignHead).toBeUndefined();
  });

  it("reads a workflow run that has not concluded, and the one without a workflow object by its run's name", () => {
    const payload = realPayload("workflow_run", "completed", (candidate) => candidate.workflow_run.conclusion === null);
    delete payload.workflow;
    const facts = eventFacts("workflow_run", payload);
    expect(facts.text).toEqual({ workflow: "Manually triggered workflow", conclusion: "", branch: "main" });
    expect(facts.workflowRun).toMatchObject({ conclusion: null, pullRequests: [] });
  });

  it("tells a workflow run for a fork's commit", () => {
    const payload = realPayload("workflow_run", "completed", (candidate) => candidate.workflow_run.conclusion === "success");
    payload.workflow_run.head_repository = { ...payload.workflow_run.head_repository, full_name: "mallory/octo-repo" };
    expect(eventFacts("workflow_run", payload).foreignHead).toBe("mallory/octo-repo");
  });
});

describe("facts of deployment_status events", () => {
  it("reads GitHub's deployment_status.created examples: environment, state, commit and URLs", () => {
    const production = eventFacts("deployment_status", realPayload("deployment_status", "created", (candidate) => candidate.deployment_status.state === "success"));
    expect(production).toMatchObject({
      event: "deployment_status",
      action: "created",
      text: { environment: "production", state: "success" },
      deployment: { id: 145988746, environment: "production", state: "success", sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", ref: "master" },
    });
    // Its URLs are empty strings: no URL.
    expect(production.deployment!.url).toBeUndefined();
    const pages = eventFacts("deployment_status", realPayload("deployment_status", "created", (candidate) => candidate.deployment_status.state === "in_progress"));
    expect(pages.deployment).toMatchObject({ environment: "github-pages", state: "in_progress", url: "https://github.com/Codertocat/Hello-World/runs/145988746?check_suite_focus=true" });
  });

  it("prefers the environment's URL to the target URL", () => {
    const payload = realPayload("deployment_status", "created");
    payload.deployment_status.environment_url = "https://app.example.com";
    payload.deployment_status.target_url = "https://ci.example.com/deploy/1";
    payload.deployment_status.log_url = "https://ci.example.com/deploy/1/log";
    expect(eventFacts("deployment_status", payload).deployment).toMatchObject({ url: "https://app.example.com", logUrl: "https://ci.example.com/deploy/1/log" });
  });
});

describe("malformed payloads", () => {
  it.each([
    ["issues", (payload: Payload) => delete payload.issue.title, "not a payload of the issues event: issue.title"],
    ["workflow_run", (payload: Payload) => delete payload.workflow_run.head_sha, "not a payload of the workflow_run event: workflow_run.head_sha"],
    ["deployment_status", (payload: Payload) => delete payload.deployment.sha, "not a payload of the deployment_status event: deployment.sha"],
  ] as const)("%s: names the missing field", (event, change, message) => {
    const payload = realPayload(event, event === "issues" ? "opened" : event === "workflow_run" ? "completed" : "created");
    change(payload);
    expect(() => eventFacts(event, payload)).toThrow(PayloadError);
    expect(() => eventFacts(event, payload)).toThrow(message);
  });
});
