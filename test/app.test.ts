import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { createNodeMiddleware, type Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { RoutinesCache } from "../src/config/routines-cache.js";
import { readSecretGrants } from "../src/config/secret-grants.js";
import { StoreAdmission } from "../src/runs/admission.js";
import { SqliteStore } from "../src/runs/sqlite-store.js";
import type { Settings } from "../src/settings.js";
import { receive, testApp, testSettings as settings } from "./support/app.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, testProbot, useNock, webhookExample } from "./support/github.js";
import { readExample, readFixture } from "./support/fixtures.js";

const REPO = "/repos/Codertocat/Hello-World";

interface CheckBody {
  name: string;
  head_sha: string;
  conclusion: string;
  output: { title: string; summary: string; annotations: Array<{ start_line: number; message: string; annotation_level: string }> };
}

/** The app, with no routines on the default branch yet (the trigger side reads them on every pull request event). */
function setup(settings: Partial<Settings> = {}) {
  const app = testApp(settings);
  nock(API).get(CONTENTS_PATH).query((query) => query.ref === undefined).reply(404, { message: "Not Found" });
  return app;
}

/** Expects the check-run creation and hands back what was sent. */
function expectCheckRun(): Promise<CheckBody> {
  return new Promise((resolve) => {
    nock(API)
      .post(`${REPO}/check-runs`, (body: CheckBody) => {
        resolve(body);
        return true;
      })
      .reply(201, { id: 77 });
  });
}

describe("app", () => {
  useNock();

  describe("routines/config on pull requests", () => {
    const pullRequest = webhookExample("pull_request", "opened");
    const headSha = pullRequest.pull_request.head.sha as string;

    const changedFiles = (files: Array<{ filename: string; status: string; previous_filename?: string }>) =>
      nock(API).get(`${REPO}/pulls/2/files`).query({ per_page: 100 }).reply(200, files);

    it("passes with a table of the routines when the pull request changes a valid file (the example, which needs no secret)", async () => {
      const { probot } = setup();
      nockInstallationToken(1);
      changedFiles([{ filename: "src/index.ts", status: "modified" }, { filename: ".claude/routines.yml", status: "modified" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(200, contentsReply(readExample()));
      const check = expectCheckRun();

      await receive(probot, "pull_request", pullRequest);
      const body = await check;
      // The example names no other repository (only in a comment), so no consent is asked and nothing is warned of.
      expect(body).toMatchObject({ name: "routines/config", head_sha: headSha, conclusion: "success", output: { title: "5 routines" } });
      expect(body.output.annotations ?? []).toEqual([]);
      expect(body.output.summary).toContain("| `review` | pull_request (opened, synchronize, ready_for_review) where author !dependabot[bot]; base_branch main; labels none of skip-review; draft false<br>`/routine run review` in pull request comments | – |");
      expect(body.output.summary).toMatch(/\| `docs-drift` \| Mondays at 09:00 \(Europe\/Berlin\) \| \d{4}-\d\d-\d\d 09:00 Europe\/Berlin \|/);
    });

    it("fails at the line of a secret that the server does not grant to the repository, saying what the operator can set", async () => {
      const { probot } = setup({ secrets: readSecretGrants({ ROUTINES_SECRET_SENTRY_TOKEN: "sentry-value", ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES: "acme/*" }) });
      nockInstallationToken(1);
      changedFiles([{ filename: ".claude/routines.yml", status: "modified" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(200, contentsReply(readFixture("config/valid/secret.yml")));
      const check = expectCheckRun();

      await receive(probot, "pull_request", pullRequest);
      const body = await check;
      expect(body).toMatchObject({ conclusion: "failure", output: { title: "1 error in .claude/routines.yml" } });
      expect(body.output.annotations).toEqual([
        expect.objectContaining({
          // The line where the default environment names the secret.
          start_line: readFixture("config/valid/secret.yml").split("\n").findIndex((line) => /secrets:.*SENTRY_TOKEN/.test(line)) + 1,
          message: expect.stringContaining("environments.default.secrets[0]: secret SENTRY_TOKEN is not granted to codertocat/hello-world: its operator can add codertocat/hello-world to ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES"),
        }),
      ]);
    });

    it("fails with one annotation per problem at its line", async () => {
      const { probot } = setup();
      nockInstallationToken(1);
      changedFiles([{ filename: ".claude/routines.yml", status: "added" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(200, contentsReply(readFixture("config/partly-broken.yml")));
      const check = expectCheckRun();

      await receive(probot, "pull_request", pullRequest);
      const body = await check;
      expect(body.conclusion).toBe("failure");
      expect(body.output.title).toBe("2 errors in .claude/routines.yml");
      expect(body.output.annotations).toEqual([
        expect.objectContaining({ start_line: 7, annotation_level: "failure", message: '.claude/routines.yml:7:14: environments.broken.network: must be one of "none", "trusted", "custom", "full"; got "open"' }),
        expect.objectContaining({ start_line: 16, annotation_level: "failure", message: expect.stringContaining("routines.nightly.triggers[0].schedule.cron: runs every 1m") }),
      ]);
      expect(body.output.summary).toContain("### Routines that are valid despite the errors");
      expect(body.output.summary).toContain("| `review` |");
      expect(body.output.summary).not.toContain("| `nightly` |");
    });

    it("sends more than 50 annotations in batches of 50", async () => {
      const { probot } = setup();
      const broken = ["version: 1", "routines:", ...Array.from({ length: 95 }, (_, i) => `  r${i}:\n    promt: x`)].join("\n");
      nockInstallationToken(1);
      changedFiles([{ filename: ".claude/routines.yml", status: "modified" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(200, contentsReply(broken));
      const check = expectCheckRun();
      const updates: number[] = [];
      nock(API)
        .patch(`${REPO}/check-runs/77`, (body: CheckBody) => updates.push(body.output.annotations.length) > 0)
        .times(3)
        .reply(200, { id: 77 });

      await receive(probot, "pull_request", pullRequest);
      expect((await check).output.annotations).toHaveLength(50);
      expect(updates).toEqual([50, 50, 40]);
    });

    it("fails one delivery with GitHub's error without affecting the next", async () => {
      const { probot } = setup();
      nockInstallationToken(1);
      nock(API).get(`${REPO}/pulls/2/files`).query({ per_page: 100 }).reply(502, { message: "Bad Gateway" });
      await expect(receive(probot, "pull_request", pullRequest)).rejects.toThrow("Bad Gateway");

      changedFiles([{ filename: ".claude/routines.yml", status: "modified" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(200, contentsReply(readFixture("config/valid/minimal.yml")));
      const check = expectCheckRun();
      await receive(probot, "pull_request", pullRequest);
      expect((await check).conclusion).toBe("success");
    });

    it("checks nothing when the pull request leaves the file alone", async () => {
      const { probot } = setup();
      nockInstallationToken(1);
      changedFiles([{ filename: "README.md", status: "modified" }]);
      await receive(probot, "pull_request", pullRequest);
    });

    it("passes a pull request that removes the file", async () => {
      const { probot } = setup();
      nockInstallationToken(1);
      changedFiles([{ filename: ".claude/routines.yml", status: "removed" }]);
      nock(API).get(CONTENTS_PATH).query({ ref: headSha }).reply(404, { message: "Not Found" });
      const check = expectCheckRun();
      await receive(probot, "pull_request", webhookExample("pull_request", "synchronize"));
      expect(await check).toMatchObject({ conclusion: "success", output: { title: "No routines file" } });
    });
  });

  describe("pushes to the default branch", () => {
    const push = (files: { added?: string[]; modified?: string[]; removed?: string[] }, ref = "refs/heads/master") => {
      const payload = webhookExample("push");
      Object.assign(payload, { ref, before: "a".repeat(40), created: false, deleted: false, forced: false });
      payload.commits = [{ ...payload.commits[0], added: [], modified: [], removed: [], ...files }];
      return payload;
    };

    async function loadedOnce(routines: RoutinesCache, probot: Probot) {
      nockInstallationToken(1);
      nock(API).get(CONTENTS_PATH).reply(200, contentsReply(readFixture("config/valid/minimal.yml"), "sha-1"));
      const octokit = await probot.auth(1);
      await routines.load(octokit, { owner: "Codertocat", repo: "Hello-World" });
      return octokit;
    }

    it("re-reads the routines after a push that touches .claude/", async () => {
      const { probot, routines } = testApp();
      const octokit = await loadedOnce(routines, probot);

      await receive(probot, "push", push({ modified: [".claude/prompts/review.md"] }));

      nock(API).get(CONTENTS_PATH).reply(200, contentsReply(readExample(), "sha-2"));
      expect(await routines.load(octokit, { owner: "Codertocat", repo: "Hello-World" })).toMatchObject({ found: true, sha: "sha-2" });
    });

    it("keeps the routines after pushes elsewhere or to other branches", async () => {
      const { probot, routines } = testApp();
      const octokit = await loadedOnce(routines, probot);

      await receive(probot, "push", push({ modified: ["src/index.ts"] }));
      await receive(probot, "push", push({ modified: [".claude/routines.yml"] }, "refs/heads/feature"));
      expect(await routines.load(octokit, { owner: "Codertocat", repo: "Hello-World" })).toMatchObject({ found: true, sha: "sha-1" });
    });

    it("checks the file on the pushed commit when the push changes it", async () => {
      const { probot } = testApp();
      const payload = push({ modified: [".claude/routines.yml"] });
      nockInstallationToken(1);
      nock(API).get(CONTENTS_PATH).query({ ref: payload.after }).reply(200, contentsReply(readFixture("config/invalid/invalid-cron.yml")));
      const check = expectCheckRun();
      await receive(probot, "push", payload);
      expect(await check).toMatchObject({ head_sha: payload.after, conclusion: "failure", output: { title: "1 error in .claude/routines.yml" } });
    });
  });

  describe("the webhook endpoint", () => {
    let server: Server;
    let url: string;
    const secret = "webhook-secret";

    beforeEach(async () => {
      const probot = testProbot({ secret });
      const store = new SqliteStore(":memory:");
      const middleware = await createNodeMiddleware(createApp({ settings, store, admission: new StoreAdmission(store, settings) }), { probot });
      server = createServer((req, res) => void middleware(req, res));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
      nock.enableNetConnect("127.0.0.1");
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const sign = (body: string, key = secret) => `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
    const post = (body: string, headers: Record<string, string>) =>
      fetch(url, { method: "POST", body, headers: { "content-type": "application/json", "x-github-event": "pull_request", "x-github-delivery": "d-1", ...headers } });

    it("accepts a signed pull_request delivery and runs the config check", async () => {
      const payload = JSON.stringify(webhookExample("pull_request", "opened"));
      nockInstallationToken(1);
      nock(API).get(`${REPO}/pulls/2/files`).query({ per_page: 100 }).reply(200, [{ filename: ".claude/routines.yml", status: "modified" }]);
      nock(API).get(CONTENTS_PATH).query(true).times(2).reply(200, contentsReply(readFixture("config/valid/minimal.yml")));
      const check = expectCheckRun();

      const response = await post(payload, { "x-hub-signature-256": sign(payload) });
      expect(response.status).toBe(200);
      expect(await check).toMatchObject({ conclusion: "success", output: { title: "1 routine" } });
    });

    it("rejects a delivery with a wrong signature and one that is not JSON", async () => {
      const payload = JSON.stringify(webhookExample("pull_request", "opened"));
      const wrong = sign(payload, "another-secret");
      expect((await post(payload, { "x-hub-signature-256": wrong })).status).toBe(400);
      const garbage = "{not json";
      expect((await post(garbage, { "x-hub-signature-256": sign(garbage) })).status).toBe(400);
    });
  });
});
