import { describe, expect, it } from "vitest";
import { GithubTrigger } from "../../src/config/schema.js";
import { validateRoutines } from "../../src/config/validate.js";
import { eventFacts, PayloadError } from "../../src/triggers/event-facts.js";
import { githubTriggerMismatch, listeningTriggers, matchEvent, needsChangedFiles } from "../../src/triggers/match-event.js";
import { readFixture } from "../support/fixtures.js";
import { webhookExample, webhookExampleWhere } from "../support/github.js";

// GitHub's example pull request: Codertocat's "Update the README with new information." from
// branch "changes" into "master", labelled "bug", not a draft, not merged.
const pullRequest = (action = "opened", change: (payload: any) => void = () => undefined) => { // payloads are loosely typed test data
  const payload = webhookExample("pull_request", action);
  change(payload);
  return eventFacts("pull_request", payload);
};
// GitHub's example release: tag "0.0.1" from "master" by Codertocat, with an empty name and body.
const release = (action = "published", change: (payload: any) => void = () => undefined) => { // likewise
  const payload = webhookExample("release", "created");
  payload.action = action;
  change(payload);
  return eventFacts("release", payload);
};
const github = (value: unknown) => GithubTrigger.parse(value);
const pr = (filters: unknown, extra: object = {}) => github({ event: "pull_request", filters, ...extra });

describe("github triggers on pull requests", () => {
  it.each([
    ["no filters", {}, undefined],
    ["base_branch glob", { base_branch: "mas*" }, undefined],
    ["base_branch mismatch", { base_branch: "main" }, 'base_branch "master" does not match "main"'],
    ["base_branch any of a list", { base_branch: ["main", "master"] }, undefined],
    ["base_branch none of a list", { base_branch: ["main", "develop"] }, 'base_branch "master" does not match any of "main", "develop"'],
    ["head_branch negated", { head_branch: "!changes" }, 'head_branch "changes" is excluded by "!changes"'],
    ["head_branch regex", { head_branch: "/^chan/" }, undefined],
    ["head_branch regex with flags", { head_branch: "/^CHANGES$/i" }, undefined],
    ["head_branch glob stops at /", { head_branch: "chang*/x" }, 'head_branch "changes" does not match "chang*/x"'],
    ["author, ignoring case", { author: "codertocat" }, undefined],
    ["author negated among bots", { author: ["!dependabot[bot]", "!renovate[bot]"] }, undefined],
    ["author excluded", { author: ["!Codertocat"] }, 'author "Codertocat" is excluded by "!Codertocat"'],
    ["title glob across text", { title: "Update*information." }, undefined],
    ["title mismatch", { title: "feat:*" }, 'title "Update the README with new information." does not match "feat:*"'],
    ["title regex", { title: "/readme/i" }, undefined],
    ["body glob", { body: "*simple change*" }, undefined],
    ["body negated regex", { body: "!/pretty simple/" }, 'body "This is a pretty simple change that we need to pull into ..." is excluded by "!/pretty simple/"'],
    ["labels any of", { labels: ["enhancement", "bug"] }, undefined],
    ["labels any of, none present", { labels: "enhancement" }, 'labels ("bug") include none of "enhancement"'],
    ["labels all of", { labels: { all: ["bug", "ui"] } }, 'labels ("bug") lack "ui"'],
    ["labels none of", { labels: { none: ["b*"] } }, 'labels ("bug") include "b*", which is excluded'],
    ["labels all and none", { labels: { all: "BUG", none: "wip" } }, undefined],
    ["draft false", { draft: false }, undefined],
    ["draft true", { draft: true }, "draft is false, the filter wants true"],
    ["merged", { merged: true }, "merged is false, the filter wants true"],
  ])("%s", (_, filters, reason) => {
    expect(githubTriggerMismatch(pr(filters), pullRequest())).toBe(reason);
  });

  it("applies all filters: the first that fails is the reason", () => {
    expect(githubTriggerMismatch(pr({ author: "Codertocat", base_branch: "main", draft: true }), pullRequest())).toBe('base_branch "master" does not match "main"');
  });

  it("fires on the default actions, or on the listed ones", () => {
    expect(githubTriggerMismatch(pr({}), pullRequest("synchronize"))).toBeUndefined();
    expect(githubTriggerMismatch(pr({}), pullRequest("labeled"))).toBe('action "labeled" is not one of opened, synchronize, reopened, ready_for_review');
    expect(githubTriggerMismatch(pr({}, { actions: ["labeled"] }), pullRequest("labeled"))).toBeUndefined();
  });

  it("sees drafts and merges", () => {
    expect(githubTriggerMismatch(pr({ draft: true }), pullRequest("opened", (p) => (p.pull_request.draft = true)))).toBeUndefined();
    const merged = pullRequest("closed", (p) => (p.pull_request.merged = true));
    expect(githubTriggerMismatch(pr({ merged: true }, { actions: ["closed"] }), merged)).toBeUndefined();
    expect(githubTriggerMismatch(pr({ merged: false }, { actions: ["closed"] }), merged)).toBe("merged is true, the filter wants false");
  });

  it("matches branch names that start with # and tells when * stopped at /", () => {
    const from = (ref: string) => pullRequest("opened", (p) => (p.pull_request.head.ref = ref));
    expect(githubTriggerMismatch(pr({ head_branch: "#123-*" }), from("#123-fix"))).toBeUndefined();
    expect(githubTriggerMismatch(pr({ head_branch: "feature/*" }), from("feature/a/b"))).toBe(
      'head_branch "feature/a/b" does not match "feature/*" (* stops at "/": use "feature/**" to match across "/")',
    );
    expect(githubTriggerMismatch(pr({ head_branch: "feature/**" }), from("feature/a/b"))).toBeUndefined();
  });

  it("does not fire for forks unless the trigger allows them", () => {
    const fork = pullRequest("opened", (p) => (p.pull_request.head.repo.full_name = "someone/Hello-World"));
    expect(fork.pullRequest?.fork).toBe("someone/Hello-World");
    expect(githubTriggerMismatch(pr({}), fork)).toBe("the pull request comes from a fork (someone/Hello-World); set forks: true to run on forks, without secrets");
    expect(githubTriggerMismatch(pr({}, { forks: true }), fork)).toBeUndefined();
    const deletedFork = pullRequest("opened", (p) => (p.pull_request.head.repo = null));
    expect(deletedFork.pullRequest?.fork).toBe("unknown");
  });
});

describe("paths filters on pull requests", () => {
  const changed = (...paths: string[]) => ({ ...pullRequest(), changedFiles: { paths, complete: true } });

  it("fire when a changed file is selected by paths, read in order with ! excluding", () => {
    const docs = pr({}, { paths: ["docs/**", "!docs/drafts/**"] });
    expect(githubTriggerMismatch(docs, changed("src/app.ts", "docs/guide.md"))).toBeUndefined();
    expect(githubTriggerMismatch(docs, changed("docs/drafts/idea.md"))).toBe('the changed file does not match paths "docs/**", "!docs/drafts/**"');
    expect(githubTriggerMismatch(docs, changed("src/app.ts", "README.md"))).toBe('none of the 2 changed files matches paths "docs/**", "!docs/drafts/**"');
  });

  it("do not fire when every changed file is selected by paths_ignore", () => {
    const code = pr({}, { paths_ignore: ["docs/**", "**/*.md"] });
    expect(githubTriggerMismatch(code, changed("docs/guide.md", "README.md"))).toBe('all 2 changed files match paths_ignore "docs/**", "**/*.md"');
    expect(githubTriggerMismatch(code, changed("docs/guide.md", "src/app.ts"))).toBeUndefined();
  });

  it("hold nothing back when the list of files was cut short, and say when it was not read at all", () => {
    const docs = pr({}, { paths: ["docs/**"] });
    expect(githubTriggerMismatch(docs, { ...pullRequest(), changedFiles: { paths: ["src/a.ts"], complete: false } })).toBeUndefined();
    expect(githubTriggerMismatch(docs, pullRequest())).toBe("paths filters need the pull request's changed files, which were not given");
  });

  it("are checked by the schema: pull requests only, paths or paths_ignore, valid globs", () => {
    const problems = (trigger: object) => validateRoutines(JSON.stringify({ version: 1, routines: { r: { prompt: "p", triggers: [{ github: trigger }] } } })).problems.map((problem) => problem.message);
    expect(problems({ event: "release", paths: ["docs/**"] })).toEqual(["paths applies only to pull_request events"]);
    expect(problems({ event: "pull_request", paths: ["a/**"], paths_ignore: ["b/**"] })[0]).toMatch(/^use paths or paths_ignore, not both/);
    expect(problems({ event: "pull_request", paths: [] })).toEqual(["must list at least one glob"]);
    expect(problems({ event: "pull_request", paths: ["docs/**", "!docs/drafts/**"] })).toEqual([]);
  });
});

describe("github triggers on releases", () => {
  const rel = (filters: unknown, extra: object = {}) => github({ event: "release", filters, ...extra });

  it.each([
    ["published by default", {}, undefined],
    ["tag", { tag: "0.0.*" }, undefined],
    ["tag regex", { tag: "/^v\\d/" }, 'tag "0.0.1" does not match "/^v\\d/"'],
    ["target branch", { target_branch: "master" }, undefined],
    ["target branch mismatch", { target_branch: "release/*" }, 'target_branch "master" does not match "release/*"'],
    ["author", { author: "Codertocat" }, undefined],
    ["title is the release name", { title: "v*" }, 'title "" does not match "v*"'],
  ])("%s", (_, filters, reason) => {
    expect(githubTriggerMismatch(rel(filters), release())).toBe(reason);
  });

  it("listens to the actions it lists", () => {
    expect(githubTriggerMismatch(rel({}), release("created"))).toBe('action "created" is not one of published');
    expect(githubTriggerMismatch(rel({}, { actions: ["created", "prereleased"] }), release("prereleased"))).toBeUndefined();
    expect(githubTriggerMismatch(rel({}), pullRequest())).toBe("listens to release events");
  });
});

describe("matchEvent", () => {
  it("fires several routines from one event, and reports every trigger that does not fire", () => {
    const { routines } = validateRoutines(
      [
        "version: 1",
        "routines:",
        "  review:",
        "    prompt: Review.",
        "    triggers:",
        "      - github: { event: pull_request, filters: { base_branch: main } }",
        "      - github: { event: pull_request, filters: { labels: bug } }",
        "  triage:",
        "    prompt: Triage.",
        "    triggers:",
        "      - github: { event: pull_request, actions: [opened] }",
        "      - command: triage",
        "  notes:",
        "    prompt: Notes.",
        "    triggers:",
        "      - github: { event: release }",
      ].join("\n"),
    );
    expect(matchEvent(routines, pullRequest())).toEqual({
      matched: [
        { routine: "review", trigger: 1 },
        { routine: "triage", trigger: 0 },
      ],
      skipped: [
        { routine: "review", trigger: 0, reason: 'base_branch "master" does not match "main"' },
        { routine: "notes", trigger: 0, reason: "listens to release events" },
      ],
    });
  });

  it("names the field a malformed payload lacks", () => {
    expect(() => eventFacts("pull_request", { action: "opened", pull_request: { number: 1 } })).toThrow(PayloadError);
    expect(() => eventFacts("release", webhookExample("pull_request", "opened"))).toThrow("not a payload of the release event: release: Invalid input: expected object, received undefined");
  });
});

describe("github triggers on issues", () => {
  // GitHub's example issue #1: "Spelling error in the README file" by Codertocat, labelled "bug".
  const issue = (action = "opened", change: (payload: any) => void = () => undefined) => { // payloads are loosely typed test data
    const payload = webhookExampleWhere("issues", action);
    change(payload);
    return eventFacts("issues", payload);
  };
  const iss = (filters: unknown, extra: object = {}) => github({ event: "issues", filters, ...extra });

  it.each([
    ["opened fires by default", {}, undefined],
    ["labels any of", { labels: ["question", "bug"] }, undefined],
    ["labels lacking", { labels: { all: ["bug", "triage"] } }, 'labels ("bug") lack "triage"'],
    ["author, ignoring case", { author: "codertocat" }, undefined],
    ["author excluded", { author: "!Codertocat" }, 'author "Codertocat" is excluded by "!Codertocat"'],
    ["title glob", { title: "Spelling*" }, undefined],
    ["body regex", { body: "/two 't's/" }, undefined],
    ["body mismatch", { body: "*crash*" }, `body "It looks like you accidently spelled 'commit' with two 't's." does not match "*crash*"`],
  ])("%s", (_, filters, reason) => {
    expect(githubTriggerMismatch(iss(filters), issue())).toBe(reason);
  });

  it("fires on opened and reopened by default, on labeled when listed", () => {
    expect(githubTriggerMismatch(iss({}), issue("labeled"))).toBe('action "labeled" is not one of opened, reopened');
    expect(githubTriggerMismatch(iss({ labels: "bug" }, { actions: ["labeled"] }), issue("labeled"))).toBeUndefined();
    expect(githubTriggerMismatch(iss({}), pullRequest())).toBe("listens to issues events");
    expect(githubTriggerMismatch(pr({}), issue())).toBe("listens to pull_request events");
  });
});

describe("github triggers on workflow runs", () => {
  // GitHub's example: workflow "test" completed with success on master, for pull request #2.
  const completed = (change: (payload: any) => void = () => undefined) => { // likewise
    const payload = webhookExampleWhere("workflow_run", "completed", (candidate) => candidate.workflow_run.conclusion === "success");
    change(payload);
    return eventFacts("workflow_run", payload);
  };
  const wr = (filters: unknown, extra: object = {}) => github({ event: "workflow_run", filters, ...extra });

  it.each([
    ["completed fires by default", {}, undefined],
    ["workflow name", { workflow: "test" }, undefined],
    ["workflow mismatch", { workflow: "Deploy" }, 'workflow "test" does not match "Deploy"'],
    ["conclusion", { conclusion: "success" }, undefined],
    ["conclusion mismatch", { conclusion: "failure" }, 'conclusion "success" does not match "failure"'],
    ["conclusion negated", { conclusion: "!success" }, 'conclusion "success" is excluded by "!success"'],
    ["branch", { branch: "master" }, undefined],
    ["branch glob stops at /", { branch: "release/*" }, 'branch "master" does not match "release/*"'],
  ])("%s", (_, filters, reason) => {
    expect(githubTriggerMismatch(wr(filters), completed())).toBe(reason);
  });

  it("waits for completed unless told, and sees a failed deploy", () => {
    const requested = eventFacts("workflow_run", webhookExampleWhere("workflow_run", "requested"));
    expect(githubTriggerMismatch(wr({}), requested)).toBe('action "requested" is not one of completed');
    expect(githubTriggerMismatch(wr({}, { actions: ["requested"] }), requested)).toBeUndefined();
    const failed = completed((payload) => {
      payload.workflow.name = "Deploy";
      payload.workflow_run.conclusion = "failure";
    });
    expect(githubTriggerMismatch(wr({ workflow: "Deploy", conclusion: "success", branch: "master" }), failed)).toBe('conclusion "failure" does not match "success"');
    expect(githubTriggerMismatch(wr({ workflow: "Deploy", conclusion: ["failure", "timed_out"] }), failed)).toBeUndefined();
  });

  it("never fires for a workflow run on a fork's commit", () => {
    const fork = completed((payload) => {
      payload.workflow_run.head_repository.full_name = "mallory/octo-repo";
    });
    expect(githubTriggerMismatch(wr({}), fork)).toBe("the workflow run is for a commit of mallory/octo-repo, not of this repository; workflow_run triggers fire only for the repository's own commits");
  });
});

describe("github triggers on deployment statuses", () => {
  // GitHub's examples: deployment 145988746 of master at f95f852, to production (success) or github-pages (in_progress).
  const status = (state: string) => eventFacts("deployment_status", webhookExampleWhere("deployment_status", "created", (candidate) => candidate.deployment_status.state === state));
  const ds = (filters: unknown) => github({ event: "deployment_status", filters });

  it.each([
    ["created fires by default", {}, "success", undefined],
    ["environment, ignoring case", { environment: "Production" }, "success", undefined],
    ["environment mismatch", { environment: "production" }, "in_progress", 'environment "github-pages" does not match "production"'],
    ["state", { environment: "production", state: "success" }, "success", undefined],
    ["state not yet", { state: "success" }, "in_progress", 'state "in_progress" does not match "success"'],
    ["state as a list", { state: ["failure", "error"] }, "success", 'state "success" does not match any of "failure", "error"'],
  ])("%s", (_, filters, state, reason) => {
    expect(githubTriggerMismatch(ds(filters), status(state))).toBe(reason);
  });
});

describe("matchEvent on the new events", () => {
  it("fires the routine whose trigger matches and says why the others do not", () => {
    const { routines, problems } = validateRoutines(readFixture("config/valid/deploy-triggers.yml"));
    expect(problems).toEqual([]);
    const deployed = eventFacts("deployment_status", webhookExampleWhere("deployment_status", "created", (candidate) => candidate.deployment_status.state === "success"));
    expect(matchEvent(routines, deployed)).toEqual({
      matched: [{ routine: "verify", trigger: 1 }],
      skipped: [
        { routine: "triage", trigger: 0, reason: "listens to issues events" },
        { routine: "verify", trigger: 0, reason: "listens to workflow_run events" },
      ],
    });
  });
});

describe("the triggers an event looks at", () => {
  const { routines } = validateRoutines(
    [
      "version: 1",
      "routines:",
      "  review:",
      "    prompt: Review.",
      "    triggers:",
      "      - github: { event: pull_request, filters: { base_branch: master }, paths: [src/**] }",
      "      - github: { event: pull_request, actions: [labeled, opened, opened], filters: { base_branch: main }, paths: [src/**] }",
      "      - command: review",
      "  notes:",
      "    prompt: Notes.",
      "    triggers:",
      "      - github: { event: release }",
      "  triage:",
      "    prompt: Triage.",
      "    triggers:",
      "      - github: { event: pull_request, actions: [closed] }",
    ].join("\n"),
  );

  it("are those listening to its name and action, default actions included, in the file's order", () => {
    expect(listeningTriggers(routines, "pull_request", "opened")).toEqual([
      { routine: "review", trigger: 0 },
      { routine: "review", trigger: 1 },
    ]);
    expect(listeningTriggers(routines, "pull_request", "labeled")).toEqual([{ routine: "review", trigger: 1 }]);
    expect(listeningTriggers(routines, "pull_request", "closed")).toEqual([{ routine: "triage", trigger: 0 }]);
    expect(listeningTriggers(routines, "release", "published")).toEqual([{ routine: "notes", trigger: 0 }]);
    expect(listeningTriggers(routines, "release", "created")).toEqual([]);
    expect(listeningTriggers(routines, "issues", "opened")).toEqual([]);
    // Matching only those finds what matching every trigger finds.
    const facts = { ...pullRequest(), changedFiles: { paths: ["src/a.ts"], complete: true } };
    expect(matchEvent(routines, facts, undefined, listeningTriggers(routines, "pull_request", "opened")).matched).toEqual(matchEvent(routines, facts).matched);
  });

  it("ask for the changed files only when a paths filter is all that is left to decide", () => {
    const opened = listeningTriggers(routines, "pull_request", "opened");
    // Into master: the first trigger's other filters hold, so its paths decide.
    expect(needsChangedFiles(routines, pullRequest(), opened)).toBe(true);
    // Into develop: no trigger with paths passes its other filters, so the files would decide nothing.
    expect(needsChangedFiles(routines, pullRequest("opened", (payload) => (payload.pull_request.base.ref = "develop")), opened)).toBe(false);
    expect(needsChangedFiles(routines, pullRequest("closed"), listeningTriggers(routines, "pull_request", "closed"))).toBe(false);
  });
});

