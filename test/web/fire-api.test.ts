import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { createNodeMiddleware } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { newApiToken } from "../../src/runs/api-tokens.js";
import { StoreAdmission } from "../../src/runs/admission.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import { testSettings } from "../support/app.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, testProbot, useNock } from "../support/github.js";

const ROUTINES = `version: 1
routines:
  triage:
    prompt: Triage the alert.
    triggers:
      - command: triage
      - api: {}
  review:
    prompt: Review.
    triggers:
      - command: review
`;
const repository = { owner: "acme", repo: "app" };

describe("POST /api/v1/routines/<trigger-id>/fire", () => {
  let server: Server;
  let base: string;
  let store: SqliteStore;
  let token: string;
  let triggerId: string;

  useNock();
  beforeEach(async () => {
    store = new SqliteStore(":memory:");
    const settings = { ...testSettings, apiFiresPerMinute: 3 };
    const middleware = await createNodeMiddleware(createApp({ settings, store, admission: new StoreAdmission(store, settings) }), { probot: testProbot() });
    server = createServer((req, res) => void middleware(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    nock.enableNetConnect("127.0.0.1");
    const created = newApiToken(repository, "triage");
    await store.createApiToken(created.record);
    ({ token } = created);
    triggerId = created.record.triggerId;
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const fire = (body?: string, headers: Record<string, string> = {}, id = triggerId) =>
    fetch(`${base}/api/v1/routines/${id}/fire`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body }),
    });
  const installed = (routines = ROUTINES) => {
    nock(API).get("/repos/acme/app/installation").reply(200, { id: 42 });
    nockInstallationToken(42);
    nock(API).get(CONTENTS_PATH).reply(200, contentsReply(routines, "config-sha"));
  };

  it("starts a run with the text as untrusted extra instructions", async () => {
    installed();
    const response = await fire(JSON.stringify({ text: "CPU on web-3 at 100% since 09:12" }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { run_id: string; run_url: string };
    expect(body).toEqual({ run_id: expect.stringMatching(/^run_/), run_url: `https://routines.example.test/dashboard/runs/${body.run_id}` });
    expect(await store.getRun(body.run_id)).toMatchObject({
      status: "queued",
      routine: "triage",
      repository,
      installationId: 42,
      configSha: "config-sha",
      trigger: { kind: "api", index: 1, triggerId },
      context: { extraInstructions: "CPU on web-3 at 100% since 09:12", withoutSecrets: false },
    });
  });

  it("accepts an empty body", async () => {
    installed();
    expect((await fire()).status).toBe(200);
  });

  it("answers 401 alike for a missing, a wrong and a revoked token", async () => {
    const answers = [
      await fire("{}", { authorization: "" }),
      await fire("{}", { authorization: "Bearer rtn_wrong" }),
      await fire("{}", { authorization: `Basic ${token}` }),
    ];
    await store.revokeApiToken(triggerId, new Date());
    answers.push(await fire("{}"));
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.headers.get("www-authenticate")).toBe("Bearer");
      expect(await answer.json()).toEqual({ error: "missing or invalid bearer token" });
    }
  });

  it("answers 404 for an unknown trigger and 405 for other methods", async () => {
    const unknown = await fire("{}", {}, "trg_0000000000000000");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: "no api trigger trg_0000000000000000" });
    const get = await fetch(`${base}/api/v1/routines/${triggerId}/fire`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it.each([
    ["invalid JSON", "{text:", 'the body is not JSON; send {"text": "..."} or nothing'],
    ["a JSON array", "[]", 'the body must be a JSON object such as {"text": "..."}'],
    ["a text that is not a string", '{"text": 5}', '"text" must be a string'],
  ])("answers 400 for %s", async (_, body, error) => {
    const response = await fire(body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error });
  });

  it("answers 413 above 64 KiB", async () => {
    const response = await fire(JSON.stringify({ text: "x".repeat(70_000) }));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: "the body is larger than 65536 bytes" });
  });

  it("answers 429 with Retry-After past the per-token rate", async () => {
    const responses = [];
    for (let i = 0; i < 4; i++) responses.push(await fire("{bad"));
    expect(responses.map((response) => response.status)).toEqual([400, 400, 400, 429]);
    expect(Number(responses[3]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
  });

  it("answers 409 when the routine no longer has an api trigger, or the app is not installed", async () => {
    installed(ROUTINES.replace("      - api: {}\n", ""));
    const gone = await fire("{}");
    expect(gone.status).toBe(409);
    expect(await gone.json()).toEqual({ error: "routine triage in acme/app has no api trigger on the default branch (or has errors: see routines validate)" });

    nock(API).get("/repos/acme/app/installation").reply(404, { message: "Not Found" });
    const uninstalled = await fire("{}");
    expect(uninstalled.status).toBe(409);
    expect(await uninstalled.json()).toEqual({ error: "the app is not installed on acme/app" });
  });

  it("answers 403 when routines are disabled for the installation, and records the rejected run", async () => {
    await store.setInstallationDisabled(42, true);
    installed();
    const response = await fire("{}");
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: string; run_id: string };
    expect(body.error).toBe("routines are disabled for this installation (kill switch)");
    expect((await store.getRun(body.run_id))?.status).toBe("rejected");
  });

  it("answers 502 when GitHub cannot be reached", async () => {
    nock(API).get("/repos/acme/app/installation").reply(500, { message: "Server Error" });
    const response = await fire("{}");
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: string }).error).toMatch(/^could not start the run: /);
  });
  describe("with an Idempotency-Key", () => {
    const runsRecorded = async () => (await store.listRuns({ limit: 100 })).length;
    /** A later fire: the installation token and the routines file are cached by then. */
    const installedAgain = () => nock(API).get("/repos/acme/app/installation").reply(200, { id: 42 });

    it("answers a retry with the run the first fire started, with the same status and body, and starts no second run", async () => {
      installed();
      const first = await fire(JSON.stringify({ text: "disk full on db-1" }), { "idempotency-key": "alert-7781" });
      expect(first.status).toBe(200);
      const body = (await first.json()) as { run_id: string; run_url: string };
      // No GitHub replies are left for a second fire: a retry that tried to start a run would fail.
      const retried = [];
      for (let i = 0; i < 4; i++) retried.push(await fire(JSON.stringify({ text: "disk full on db-1" }), { "idempotency-key": "alert-7781" }));
      for (const retry of retried) {
        expect(retry.status).toBe(200);
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        expect(await retry.json()).toEqual(body);
      }
      // Four replays and the first fire, past a rate of three a minute: replays start nothing, so they are not counted.
      expect(await runsRecorded()).toBe(1);
    });

    it("takes the draft standard's quoted form of the key as the same key", async () => {
      installed();
      const first = (await (await fire("{}", { "idempotency-key": "k-1" })).json()) as { run_id: string };
      const quoted = await fire("{}", { "idempotency-key": '"k-1"' });
      expect(((await quoted.json()) as { run_id: string }).run_id).toBe(first.run_id);
    });

    it("answers 422 when the key comes again with another body", async () => {
      installed();
      expect((await fire(JSON.stringify({ text: "one" }), { "idempotency-key": "k-2" })).status).toBe(200);
      const other = await fire(JSON.stringify({ text: "two" }), { "idempotency-key": "k-2" });
      expect(other.status).toBe(422);
      expect(await other.json()).toEqual({ error: "this Idempotency-Key was sent before with a different body; use a new key for a new request" });
      expect(await runsRecorded()).toBe(1);
    });

    it("answers 400 for an empty key or one longer than 255 characters, and takes one of 255", async () => {
      for (const [key, error] of [
        ["", "the Idempotency-Key header is empty; send a unique key (a UUID, say) or no header"],
        ['""', "the Idempotency-Key header is empty; send a unique key (a UUID, say) or no header"],
        ["k".repeat(256), "the Idempotency-Key header is longer than 255 characters"],
      ] as const) {
        const response = await fire("{}", { "idempotency-key": key });
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({ error });
      }
      installed();
      expect((await fire("{}", { "idempotency-key": "k".repeat(255) })).status).toBe(200);
    });

    it("starts one run for concurrent fires with the same key, and both answers name it", async () => {
      nock(API).get("/repos/acme/app/installation").delay(300).reply(200, { id: 42 });
      nockInstallationToken(42);
      nock(API).get(CONTENTS_PATH).reply(200, contentsReply(ROUTINES, "config-sha"));
      const answers = await Promise.all([fire("{}", { "idempotency-key": "k-3" }), fire("{}", { "idempotency-key": "k-3" })]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      const [a, b] = (await Promise.all(answers.map((answer) => answer.json()))) as Array<{ run_id: string }>;
      expect(a!.run_id).toBe(b!.run_id);
      expect(await runsRecorded()).toBe(1);
    });

    it("keeps keys apart per token: another trigger's same key starts its own run", async () => {
      const other = newApiToken(repository, "triage");
      await store.createApiToken(other.record);
      installed();
      const mine = (await (await fire("{}", { "idempotency-key": "k-4" })).json()) as { run_id: string };
      installedAgain();
      const response = await fetch(`${base}/api/v1/routines/${other.record.triggerId}/fire`, {
        method: "POST",
        headers: { authorization: `Bearer ${other.token}`, "idempotency-key": "k-4" },
        body: "{}",
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { run_id: string }).run_id).not.toBe(mine.run_id);
      expect(await runsRecorded()).toBe(2);
    });

    it("frees the key when the fire started no run, so a retry starts it", async () => {
      nock(API).get("/repos/acme/app/installation").reply(500, { message: "Server Error" });
      expect((await fire("{}", { "idempotency-key": "k-5" })).status).toBe(502);
      await store.setInstallationDisabled(42, true);
      installed();
      expect((await fire("{}", { "idempotency-key": "k-5" })).status).toBe(403);
      await store.setInstallationDisabled(42, false);
      installedAgain();
      const started = await fire("{}", { "idempotency-key": "k-5" });
      expect(started.status).toBe(200);
      expect(started.headers.get("idempotent-replayed")).toBeNull();
    });

    it("still checks the token before looking at the key", async () => {
      installed();
      expect((await fire("{}", { "idempotency-key": "k-6" })).status).toBe(200);
      const stranger = await fire("{}", { "idempotency-key": "k-6", authorization: "Bearer rtn_wrong" });
      expect(stranger.status).toBe(401);
      expect(await stranger.json()).toEqual({ error: "missing or invalid bearer token" });
    });
  });
});
