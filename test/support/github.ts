// GitHub at its HTTP edge: a Probot wired to nock, and real webhook payloads from @octokit/webhooks-examples.
import { generateKeyPairSync } from "node:crypto";
import { createRequire } from "node:module";
import nock from "nock";
import { afterEach, beforeEach, expect } from "vitest";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";

export const API = "https://api.github.com";
export const privateKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

/** Probot's Octokit without retries or throttling, so every request is visible to nock. */
// A function, because Probot sets its own throttle options on top of plain defaults.
export const TestOctokit = ProbotOctokit.defaults((options: object) => ({ ...options, retry: { enabled: false }, throttle: { enabled: false } }));

/** A Probot that talks to nock: no retries or throttling, so every request is visible. */
export function testProbot(options: { secret?: string } = {}): Probot {
  return new Probot({
    appId: 1,
    privateKey,
    secret: options.secret ?? "test-secret",
    log: pino({ level: "silent" }),
    Octokit: TestOctokit,
  });
}

// Example payloads are typed loosely here; tests read the fields they use.
type Payload = any;
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as Array<{ name: string; examples: Payload[] }>;

/** A fresh copy of GitHub's example payload for `event.action` that carries an installation. */
export function webhookExample(event: string, action?: string): Payload {
  const found = examples
    .find((entry) => entry.name === event)
    ?.examples.find((example) => example.installation && (action === undefined || example.action === action));
  if (!found) throw new Error(`no example ${event}.${action} with an installation`);
  return structuredClone(found);
}

/** Fresh copies of all of GitHub's example payloads for `event.action`, with an installation or not. */
export function webhookExamples(event: string, action: string): Payload[] {
  const found = examples.find((entry) => entry.name === event)?.examples.filter((example) => example.action === action) ?? [];
  if (found.length === 0) throw new Error(`no example ${event}.${action}`);
  return found.map((example) => structuredClone(example));
}

/** A fresh copy of the first example payload for `event.action` that `pick` takes. */
export function webhookExampleWhere(event: string, action: string, pick: (payload: Payload) => boolean = () => true): Payload {
  const found = webhookExamples(event, action).find(pick);
  if (!found) throw new Error(`no example ${event}.${action} as asked`);
  return found;
}

/** The installation token exchange that precedes every installation request. */
export function nockInstallationToken(installationId: number) {
  return nock(API)
    .post(`/app/installations/${installationId}/access_tokens`)
    .reply(201, { token: "ghs_installation_token", expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {} });
}

/** The contents API answer for a file. */
export function contentsReply(text: string, sha = "blob-sha") {
  return { type: "file", encoding: "base64", size: Buffer.byteLength(text), sha, path: ".claude/routines.yml", content: Buffer.from(text).toString("base64") };
}

export const CONTENTS_PATH = /^\/repos\/([^/]+)\/([^/]+)\/contents\/\.claude(%2F|\/)routines\.yml/;

/** No real network in the enclosing tests, and every expected GitHub request made by the end of each. */
export function useNock(before: () => void = () => undefined) {
  beforeEach(() => {
    nock.disableNetConnect();
    before();
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    nock.enableNetConnect();
    expect(pending).toEqual([]);
  });
}
