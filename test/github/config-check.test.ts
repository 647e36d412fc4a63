import nock from "nock";
import { describe, expect, it } from "vitest";
import { checkConfigAt } from "../../src/github/config-check.js";
import { MAX_CONSENT_READS } from "../../src/github/share-consent.js";
import { API, contentsReply, nockInstallationToken, testProbot, useNock } from "../support/github.js";

const repository = { owner: "acme", repo: "app" };
const SHA = "a".repeat(40);
const contents = (repo: string) => new RegExp(`^/repos/acme/${repo}/contents/\\.claude(%2F|/)routines\\.yml`);

const SOURCE = [
  "version: 1",
  "routines:",
  "  port:",
  "    prompt: Port the change.",
  "    repositories:",
  "      - self",
  "      - acme/lib",
  "      - acme/docs",
  "      - acme/gone",
  "      - globex/tools",
  "",
].join("\n");

async function octokit() {
  nockInstallationToken(1);
  return testProbot().auth(1);
}

/** The own file at the pull request's head, and the check run it gets. */
function ownFile(source: string) {
  nock(API).get(contents("app")).query({ ref: SHA }).reply(200, contentsReply(source));
  let body: any;
  nock(API)
    .post("/repos/acme/app/check-runs", (posted) => ((body = posted), true))
    .reply(201, { id: 1 });
  return () => body;
}

describe("routines/config and the other repositories a routine names", () => {
  useNock();

  it("warns at each entry whose repository does not share itself with this one, saying what to write there", async () => {
    const client = await octokit();
    const check = ownFile(SOURCE);
    // Other repositories are read from their default branch, as a run reads them.
    nock(API).get(contents("lib")).query({}).reply(200, contentsReply("version: 1\nshare_with: [acme/app]\n"));
    nock(API).get(contents("docs")).query({}).reply(200, contentsReply("version: 1\nshare_with: [acme/site]\nroutines: {}\n"));
    nock(API).get(contents("gone")).query({}).reply(404, { message: "Not Found" });

    const output = await checkConfigAt(client, repository, SHA, {});
    expect(output).toEqual({ conclusion: check().conclusion, ...check().output });
    expect(check()).toMatchObject({ name: "routines/config", head_sha: SHA, conclusion: "success", output: { title: "1 routine, 3 warnings" } });
    expect(check().output.annotations).toEqual([
      expect.objectContaining({
        start_line: 8,
        start_column: 9,
        annotation_level: "warning",
        message: expect.stringMatching(/^\.claude\/routines\.yml:8:9: warning: routines\.port\.repositories\[2\]: acme\/docs does not share itself with acme\/app: .*needs "share_with: \[acme\/app\]"/),
      }),
      expect.objectContaining({
        start_line: 9,
        annotation_level: "warning",
        message: expect.stringContaining("acme/gone does not share itself with acme/app (the app finds no .claude/routines.yml there, or is not installed on it)"),
      }),
      expect.objectContaining({ start_line: 10, annotation_level: "warning", message: expect.stringContaining("globex/tools is not acme's") }),
    ]);
    expect(check().output.summary).toContain("### Routines\n");
    expect(check().output.summary).toContain("| `port` |");
  });

  it("says nothing more when every named repository shares itself, read or write", async () => {
    const client = await octokit();
    const check = ownFile(SOURCE.replace("      - acme/gone\n      - globex/tools\n", ""));
    nock(API).get(contents("lib")).query({}).reply(200, contentsReply("version: 1\nshare_with: [acme/*]\n"));
    nock(API).get(contents("docs")).query({}).reply(200, contentsReply("version: 1\nshare_with: [{ repository: acme/app, access: write }]\n"));

    await checkConfigAt(client, repository, SHA, {});
    expect(check()).toMatchObject({ conclusion: "success", output: { title: "1 routine", annotations: [] } });
  });

  it("reads no other repository when the routines name none", async () => {
    const client = await octokit();
    const check = ownFile("version: 1\nroutines:\n  review:\n    prompt: Review.\n    repositories: [self, acme/app]\n");
    await checkConfigAt(client, repository, SHA, {});
    expect(check()).toMatchObject({ conclusion: "success", output: { title: "1 routine", annotations: [] } });
  });

  it("counts a repository the installation may not read as one without consent, and fails on other API errors", async () => {
    const client = await octokit();
    const check = ownFile(SOURCE.replace("      - acme/docs\n      - acme/gone\n      - globex/tools\n", ""));
    nock(API).get(contents("lib")).query({}).reply(403, { message: "Resource not accessible by integration" });
    await checkConfigAt(client, repository, SHA, {});
    expect(check().output.annotations).toEqual([expect.objectContaining({ start_line: 7, message: expect.stringContaining("acme/lib does not share itself with acme/app (the app finds no") })]);

    nock(API).get(contents("app")).query({ ref: SHA }).reply(200, contentsReply(SOURCE.replace("      - acme/docs\n      - acme/gone\n      - globex/tools\n", "")));
    nock(API).get(contents("lib")).query({}).reply(502, { message: "Bad Gateway" });
    await expect(checkConfigAt(client, repository, SHA, {})).rejects.toThrow(/Bad Gateway/);
  });

  it(`reads at most ${MAX_CONSENT_READS} other repositories for one check`, async () => {
    const client = await octokit();
    const names = Array.from({ length: MAX_CONSENT_READS + 5 }, (_, i) => `acme/r${i}`);
    const check = ownFile(`version: 1\nroutines:\n  port:\n    prompt: Port.\n    repositories: [${names.join(", ")}]\n`);
    const reads = nock(API).get(/^\/repos\/acme\/r\d+\/contents\//).times(MAX_CONSENT_READS).reply(404, { message: "Not Found" });
    await checkConfigAt(client, repository, SHA, {});
    expect(reads.isDone()).toBe(true);
    expect(check().output.annotations).toHaveLength(MAX_CONSENT_READS);
  });
});
