import nock from "nock";
import { describe, expect, it } from "vitest";
import { ConfigReadError } from "../../src/config/read-config-file.js";
import { RoutinesCache } from "../../src/config/routines-cache.js";
import { API, CONTENTS_PATH, contentsReply, nockInstallationToken, testProbot, useNock } from "../support/github.js";

const repository = { owner: "Codertocat", repo: "Hello-World" };
const config = "version: 1\nroutines:\n  review:\n    prompt: Review.\n";

describe("RoutinesCache", () => {
  useNock();

  const octokit = async () => {
    nockInstallationToken(1);
    return testProbot().auth(1);
  };

  it("reads the default branch once and serves later loads from memory", async () => {
    const contents = nock(API).get(CONTENTS_PATH).once().reply(200, contentsReply(config, "sha-1"));
    const cache = new RoutinesCache();
    const client = await octokit();
    const [first, second] = await Promise.all([cache.load(client, repository), cache.load(client, repository)]);
    const third = await cache.load(client, { owner: "codertocat", repo: "hello-world" });
    expect(contents.isDone()).toBe(true);
    expect(first).toMatchObject({ found: true, sha: "sha-1", problems: [] });
    expect(first.found && Object.keys(first.routines)).toEqual(["review"]);
    expect(second).toBe(first);
    expect(third).toBe(first);
  });

  it("remembers a repository without the file until it is invalidated", async () => {
    nock(API).get(CONTENTS_PATH).once().reply(404, { message: "Not Found" });
    const cache = new RoutinesCache();
    const client = await octokit();
    expect(await cache.load(client, repository)).toEqual({ found: false });
    expect(await cache.load(client, repository)).toEqual({ found: false });

    cache.invalidate(repository);
    nock(API).get(CONTENTS_PATH).once().reply(200, contentsReply(config, "sha-2"));
    expect(await cache.load(client, repository)).toMatchObject({ found: true, sha: "sha-2" });
  });

  it("asks again with the ETag after invalidation, and keeps the routines when GitHub says not modified", async () => {
    nock(API).get(CONTENTS_PATH).once().reply(200, contentsReply(config, "sha-1"), { etag: '"etag-1"' });
    const cache = new RoutinesCache();
    const client = await octokit();
    const first = await cache.load(client, repository);

    cache.invalidate(repository);
    const conditional = nock(API, { reqheaders: { "if-none-match": '"etag-1"' } }).get(CONTENTS_PATH).once().reply(304);
    expect(await cache.load(client, repository)).toBe(first);
    expect(conditional.isDone()).toBe(true);

    cache.invalidate(repository);
    nock(API, { reqheaders: { "if-none-match": '"etag-1"' } }).get(CONTENTS_PATH).once().reply(200, contentsReply(config.replace("review", "triage"), "sha-2"), { etag: '"etag-2"' });
    const changed = await cache.load(client, repository);
    expect(changed.found && Object.keys(changed.routines)).toEqual(["triage"]);
    expect(await cache.load(client, repository)).toBe(changed);
  });

  it("does not remember a failed read", async () => {
    nock(API).get(CONTENTS_PATH).once().reply(500, { message: "Server Error" });
    const cache = new RoutinesCache();
    const client = await octokit();
    const failure = await cache.load(client, repository).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigReadError);
    expect((failure as ConfigReadError).message).toMatch(/^cannot read \.claude\/routines\.yml from Codertocat\/Hello-World: /);

    nock(API).get(CONTENTS_PATH).once().reply(200, contentsReply(config));
    expect(await cache.load(client, repository)).toMatchObject({ found: true });
  });

  it("refuses a file too large to be a routines file", async () => {
    nock(API).get(CONTENTS_PATH).once().reply(200, { ...contentsReply(""), size: 600_000, encoding: "none", content: "" });
    const client = await octokit();
    await expect(new RoutinesCache().load(client, repository)).rejects.toThrow(
      ".claude/routines.yml in Codertocat/Hello-World is 600000 bytes; the limit is 524288",
    );
  });
});
