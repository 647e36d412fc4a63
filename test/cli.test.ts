import { execFile } from "node:child_process";
import { access, copyFile, mkdtemp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FIXTURES, readExample } from "./support/fixtures.js";
import { assertRunsAnywhere } from "./support/runs-anywhere.js";
import { webhookExample, webhookExampleWhere } from "./support/github.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");

/** Runs the built command as a user would, in `cwd`, and returns its status and output. */
async function routines(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH, ...env } });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("routines --help and --version", () => {
  it.each(["--help", "-h", "help"])("%s prints the usage and exits 0", async (flag) => {
    const result = await routines([flag]);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Usage: routines <command> \[options\]\n {7}routines <command> --help\n {7}routines --help \| --version\n\nCommands:\n/);
  });

  it.each(["init", "validate", "match", "run", "schema", "token", "runs", "disable", "enable"])("%s --help prints that command's usage and exits 0", async (command) => {
    const result = await routines([command, "--help"]);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toMatch(new RegExp(`^Usage: routines ${command}\\b`));
    expect(result.stdout).not.toContain("Commands:");
  });

  it("refuses an option the command does not take, naming it", async () => {
    expect(await routines(["validate", "--event", "push"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^routines: Unknown option '--event'/) });
    expect(await routines(["--bogus"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^routines: unknown option "--bogus"/) });
  });

  it.each(["--version", "-V"])("%s prints the version from package.json", async (flag) => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(await routines([flag])).toEqual({ status: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("prints the usage with status 2 when no command is given", async () => {
    expect(await routines([])).toMatchObject({ status: 2, stdout: expect.stringMatching(/^Usage: /) });
  });
});

describe("the .env file in the current directory", () => {
  it("is applied as the server applies it, so the command opens the server's database", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-env-"));
    await writeFile(join(dir, ".env"), "DATA_DIR=state\nROUTINES_PUBLIC_URL=https://routines.example.com\n");
    const created = await routines(["token", "create", "--repo", "a/b", "--routine", "x"], dir);
    expect(created).toMatchObject({ status: 0, stdout: expect.stringContaining("URL         https://routines.example.com/api/v1/routines/trg_") });
    await access(join(dir, "state/routines.db"));

    // As for Probot, the file's values win over the environment's.
    const elsewhere = await mkdtemp(join(tmpdir(), "routines-env-elsewhere-"));
    const listed = await routines(["token", "list"], dir, { DATA_DIR: elsewhere });
    expect(listed).toMatchObject({ status: 0, stdout: expect.stringMatching(/\ntrg_[0-9a-f]{16} +a\/b +x +\S+ +active\n$/) });
    await expect(access(join(elsewhere, "routines.db"))).rejects.toThrow();
  });

  it("stops the command when it cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-env-"));
    await mkdir(join(dir, ".env"));
    expect(await routines(["validate"], dir)).toEqual({ status: 2, stdout: "", stderr: expect.stringMatching(/^routines: cannot read \.env: EISDIR/) });
  });
});

describe("routines validate", () => {
  it("accepts routines.example.yml", async () => {
    expect(await routines(["validate", "routines.example.yml"])).toEqual({
      status: 0,
      stdout: "routines.example.yml: valid, 5 routines (review, release-notes, docs-drift, dependency-bumps, alert-triage)\n",
      stderr: "",
    });
  });

  it("accepts a copy of routines.example.yml in any checkout, and the copy needs nothing the repository lacks", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-example-"));
    await promisify(execFile)("git", ["init", "-q", dir]);
    await mkdir(join(dir, ".claude"));
    await copyFile(join(ROOT, "routines.example.yml"), join(dir, ".claude/routines.yml"));
    // In a checkout, prompt files are checked too; and no .env grants any secret.
    expect(await routines(["validate"], dir)).toEqual({ status: 0, stdout: ".claude/routines.yml: valid, 5 routines (review, release-notes, docs-drift, dependency-bumps, alert-triage)\n", stderr: "" });
    expect(await routines(["validate", "--repo", "someone/anything"], dir)).toMatchObject({ status: 0 });
    // The custom network of its docs environment reaches public hosts only; it needs no grant.
    assertRunsAnywhere(parse(readExample()), ["none", "trusted", "custom"]);
  });

  it("prints file:line:col: message for each problem and exits 1", async () => {
    const result = await routines(["validate", "unknown-routine-key.yml"], join(FIXTURES, "config/invalid"));
    expect(result).toEqual({
      status: 1,
      stdout: [
        "unknown-routine-key.yml:3:3: routines.review: needs prompt or prompt_file",
        'unknown-routine-key.yml:4:5: routines.review.promt: unknown key "promt"; did you mean "prompt"?',
        "unknown-routine-key.yml: 2 errors",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  it("reads .claude/routines.yml by default", async () => {
    const repo = await mkdtemp(join(tmpdir(), "routines-cli-"));
    await mkdir(join(repo, ".claude"));
    await writeFile(join(repo, ".claude/routines.yml"), "version: 1\nroutines:\n  review:\n    prompt: Review.\n");
    expect(await routines(["validate"], repo)).toMatchObject({ status: 0, stdout: ".claude/routines.yml: valid, 1 routine (review)\n" });
  });

  it("with --repo, checks the secrets the file names against the grants of its environment", async () => {
    const repo = await mkdtemp(join(tmpdir(), "routines-cli-"));
    await mkdir(join(repo, ".claude"));
    await writeFile(join(repo, ".claude/routines.yml"), "version: 1\nenvironments:\n  default:\n    secrets: [VAULT_KEY]\nroutines:\n  review:\n    prompt: Review.\n");
    const granted = { ROUTINES_SECRET_VAULT_KEY: "vault-value", ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme/*" };
    expect(await routines(["validate", "--repo", "acme/app"], repo, granted)).toMatchObject({ status: 0 });
    expect(await routines(["validate"], repo)).toMatchObject({ status: 0 });
    expect(await routines(["validate", "--repo", "globex/app"], repo, granted)).toEqual({
      status: 1,
      stdout: expect.stringContaining(".claude/routines.yml:4:15: environments.default.secrets[0]: secret VAULT_KEY is not granted to globex/app: its operator can add globex/app to ROUTINES_SECRET_VAULT_KEY_REPOSITORIES"),
      stderr: "",
    });
    expect(await routines(["validate", "--repo", "globex"], repo, granted)).toMatchObject({ status: 2, stderr: 'routines: --repo "globex" is not owner/name\n' });
  });

  it("checks that each prompt_file is a file of the checkout, within the limit, at the key's line", async () => {
    const repo = await mkdtemp(join(tmpdir(), "routines-cli-"));
    await mkdir(join(repo, ".claude"));
    await mkdir(join(repo, "prompts"));
    await writeFile(join(repo, "prompts/triage.md"), "Triage the backlog.\n");
    await writeFile(join(repo, "prompts/huge.md"), "x".repeat(200 * 1024));
    const file = (prompt: string) => `version: 1\nroutines:\n  triage:\n    prompt_file: ${prompt}\n`;
    await writeFile(join(repo, ".claude/routines.yml"), file("prompts/triage.md"));
    expect(await routines(["validate"], repo)).toMatchObject({ status: 0, stdout: ".claude/routines.yml: valid, 1 routine (triage)\n" });
    await writeFile(join(repo, ".claude/routines.yml"), file("prompts/missing.md"));
    expect(await routines(["validate"], repo)).toEqual({
      status: 1,
      stdout: ".claude/routines.yml:4:18: routines.triage.prompt_file: prompt_file prompts/missing.md is not a file in the repository\n.claude/routines.yml: 1 error\n",
      stderr: "",
    });
    await writeFile(join(repo, ".claude/routines.yml"), file("prompts/huge.md"));
    expect((await routines(["validate"], repo)).stdout).toContain("prompt_file prompts/huge.md is 200 KB; the limit is 100 KB");
    // A link that leads out of the checkout is no file of it.
    await symlink("/etc/hostname", join(repo, "prompts/outside.md"));
    await writeFile(join(repo, ".claude/routines.yml"), file("prompts/outside.md"));
    expect((await routines(["validate"], repo)).stdout).toContain("prompt_file prompts/outside.md is not a file in the repository");
  });

  it("exits 2 when the file cannot be read", async () => {
    const repo = await mkdtemp(join(tmpdir(), "routines-cli-"));
    expect(await routines(["validate"], repo)).toEqual({
      status: 2,
      stdout: "",
      stderr: "routines: cannot read .claude/routines.yml: no such file\n",
    });
  });

  it("takes the minimum schedule interval from the environment, and names a bad value", async () => {
    const file = join(FIXTURES, "config/invalid/schedule-too-frequent.yml");
    expect((await routines(["validate", file], ROOT, { ROUTINES_MIN_SCHEDULE_INTERVAL: "5m" })).status).toBe(0);
    expect(await routines(["validate", file], ROOT, { ROUTINES_MIN_SCHEDULE_INTERVAL: "often" })).toEqual({
      status: 2,
      stdout: "",
      stderr: 'routines: ROUTINES_MIN_SCHEDULE_INTERVAL="often" is not a duration; use a value such as "15m" or "1h"\n',
    });
  });
});

describe("routines schema", () => {
  it("prints the committed JSON Schema", async () => {
    const result = await routines(["schema"]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(await readFile(join(ROOT, "schema/routines.schema.json"), "utf8")));
  });

  it("rejects an unknown command with the usage", async () => {
    const result = await routines(["valdate"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^routines: unknown command "valdate"\n\nUsage: routines <command>/);
  });
});

describe("the README", () => {
  const readme = () => readFile(join(ROOT, "README.md"), "utf8");
  const block = (text: string, after: string) => new RegExp(`${after}[^]*?\`\`\`\\n([^]*?)\`\`\``).exec(text)?.[1];

  it.each([
    ["valid", "A valid file prints one line and exits with status 0:"],
    ["broken", "Otherwise every problem in the file is printed"],
  ])("shows what `routines validate` prints for a %s file", async (kind, after) => {
    const repo = await mkdtemp(join(tmpdir(), "routines-readme-"));
    await mkdir(join(repo, ".claude"));
    await copyFile(join(FIXTURES, `config/readme/${kind}.yml`), join(repo, ".claude/routines.yml"));
    const result = await routines(["validate"], repo);
    expect(result.stdout).toBe(block(await readme(), after));
    expect(result.status).toBe(kind === "valid" ? 0 : 1);
  });
});

describe("routines match", () => {
  const payloadFile = async (payload: unknown) => {
    const dir = await mkdtemp(join(tmpdir(), "routines-match-"));
    const file = join(dir, "payload.json");
    await writeFile(file, typeof payload === "string" ? payload : JSON.stringify(payload));
    return file;
  };
  const matchArgs = async (event: string, payload: unknown, ...extra: string[]) =>
    routines(["match", "--config", "routines.example.yml", "--event", event, "--payload", await payloadFile(payload), ...extra]);

  it("names what fires and the first reason for what does not", async () => {
    const payload = webhookExample("pull_request", "opened");
    payload.pull_request.base.ref = "main";
    payload.pull_request.user.login = "dependabot[bot]";
    expect(await matchArgs("pull_request", payload)).toEqual({
      status: 0,
      stdout: [
        "pull_request.opened by Codertocat",
        'review: author "dependabot[bot]" is excluded by "!dependabot[bot]" (triggers[0])',
        "release-notes: listens to release events (triggers[0])",
        "No github triggers: docs-drift, dependency-bumps, alert-triage",
        "No routine fires.",
        "",
      ].join("\n"),
      stderr: "",
    });
    payload.pull_request.user.login = "Codertocat";
    expect((await matchArgs("pull_request", payload)).stdout).toContain("review: fires (triggers[0])\n");
  });

  it("reads a pull request's changed files for paths filters from --changed-file", async () => {
    const config = join(await mkdtemp(join(tmpdir(), "routines-match-")), "routines.yml");
    await writeFile(config, JSON.stringify({ version: 1, routines: { docs: { prompt: "Check the docs.", triggers: [{ github: { event: "pull_request", paths: ["docs/**"] } }] } } }));
    const payload = await payloadFile(webhookExample("pull_request", "opened"));
    const match = (...files: string[]) => routines(["match", "--config", config, "--event", "pull_request", "--payload", payload, ...files.flatMap((file) => ["--changed-file", file])]);
    expect((await match("docs/guide.md", "src/app.ts")).stdout).toContain("docs: fires (triggers[0])\n");
    expect((await match("src/app.ts")).stdout).toContain('docs: the changed file does not match paths "docs/**" (triggers[0])\n');
    expect((await match()).stdout).toContain("docs: paths filters need the pull request's changed files, which were not given (triggers[0])\n");
  });

  it("takes GitHub's issues, workflow_run and deployment_status payloads and explains each filter", async () => {
    const config = join(await mkdtemp(join(tmpdir(), "routines-match-")), "routines.yml");
    await writeFile(
      config,
      JSON.stringify({
        version: 1,
        routines: {
          triage: { prompt: "Triage.", triggers: [{ github: { event: "issues", actions: ["opened", "labeled"], filters: { labels: "bug", author: "!dependabot[bot]" } } }] },
          verify: {
            prompt: "Verify.",
            triggers: [
              { github: { event: "workflow_run", filters: { workflow: "test", conclusion: "success", branch: "master" } } },
              { github: { event: "deployment_status", filters: { environment: "production", state: "success" } } },
            ],
          },
        },
      }),
    );
    const match = async (event: string, payload: unknown) => routines(["match", "--config", config, "--event", event, "--payload", await payloadFile(payload)]);
    const opened = await match("issues", webhookExampleWhere("issues", "opened"));
    expect(opened.stdout).toBe(
      [
        "issues.opened by Codertocat on issue #1 (labels: bug)",
        "triage: fires (triggers[0])",
        "verify: listens to workflow_run events (triggers[0])",
        "verify: listens to deployment_status events (triggers[1])",
        "",
      ].join("\n"),
    );
    const unlabeled = webhookExampleWhere("issues", "labeled");
    unlabeled.issue.labels = [{ name: "question" }];
    expect((await match("issues", unlabeled)).stdout).toContain('triage: labels ("question") include none of "bug" (triggers[0])\n');

    const completed = webhookExampleWhere("workflow_run", "completed", (payload) => payload.workflow_run.conclusion === "success");
    expect((await match("workflow_run", completed)).stdout).toBe(
      [
        "workflow_run.completed by Codertocat: workflow \"test\", conclusion success, branch master, commit 3484a3fb816e0859fd6e1cea078d76385ff50625",
        "verify: fires (triggers[0])",
        "triage: listens to issues events (triggers[0])",
        "verify: listens to deployment_status events (triggers[1])",
        "",
      ].join("\n"),
    );
    completed.workflow_run.conclusion = "failure";
    expect((await match("workflow_run", completed)).stdout).toContain('verify: conclusion "failure" does not match "success" (triggers[0])\n');

    const deployed = webhookExampleWhere("deployment_status", "created", (payload) => payload.deployment_status.state === "success");
    expect((await match("deployment_status", deployed)).stdout).toContain("verify: fires (triggers[1])\n");
    const pages = webhookExampleWhere("deployment_status", "created", (payload) => payload.deployment_status.state === "in_progress");
    expect((await match("deployment_status", pages)).stdout).toContain('verify: environment "github-pages" does not match "production" (triggers[1])\n');
    expect(await match("deployment_status", { action: "created" })).toMatchObject({ status: 2, stderr: expect.stringContaining("not a payload of the deployment_status event: deployment_status:") });
  });

  it("prints JSON with --json", async () => {
    const payload = webhookExample("release", "created");
    payload.action = "published";
    payload.release.tag_name = "v1.2.3";
    const result = await matchArgs("release", payload, "--json");
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      matched: [{ routine: "release-notes", trigger: 0 }],
      skipped: [{ routine: "review", trigger: 0, reason: "listens to pull_request events" }],
    });
  });

  it("matches slash commands, and never edited comments", async () => {
    const comment = webhookExample("issue_comment", "created");
    comment.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1" };
    comment.comment.body = "/routine run triage the login page is blank";
    expect((await matchArgs("issue_comment", comment)).stdout).toBe(
      [
        "issue_comment.created by Codertocat on pull request #1",
        "alert-triage: fires (triggers[1])",
        'review: the comment runs "triage", this trigger answers to "review" (triggers[1])',
        "No command triggers: release-notes, docs-drift, dependency-bumps",
        "",
      ].join("\n"),
    );
    comment.action = "edited";
    expect((await matchArgs("issue_comment", comment)).stdout).toContain("alert-triage: only new comments run commands (this one was edited) (triggers[1])\n");
  });

  it("exits 1 for an invalid config and 2 for input it cannot use", async () => {
    const payload = webhookExample("pull_request", "opened");
    const broken = await routines(["match", "--config", join(FIXTURES, "config/invalid/unknown-action.yml"), "--event", "pull_request", "--payload", await payloadFile(payload)]);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain('unknown pull_request action "pushed"');

    expect(await matchArgs("pull_request", "{oops")).toMatchObject({ status: 2, stderr: expect.stringMatching(/payload\.json is not JSON: /) });
    expect(await matchArgs("release", payload)).toMatchObject({ status: 2, stderr: expect.stringContaining("not a payload of the release event: release: Invalid input") });
    expect(await matchArgs("push", payload)).toMatchObject({ status: 2, stderr: "routines: --event must be one of pull_request, release, issues, workflow_run, deployment_status, issue_comment\n" });
    expect(await routines(["match", "--event", "release", "--payload", "/nonexistent.json"])).toMatchObject({
      status: 2,
      stderr: "routines: cannot read /nonexistent.json: no such file\n",
    });
  });
});

describe("routines token", () => {
  it("creates a token shown once and stored as a hash, lists it, and revokes it", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "routines-tokens-"));
    const env = { DATA_DIR: dataDir, ROUTINES_PUBLIC_URL: "https://routines.example.com" };
    const created = await routines(["token", "create", "--repo", "acme/app", "--routine", "triage"], ROOT, env);
    expect(created.status).toBe(0);
    const triggerId = /trigger id {2}(trg_[0-9a-f]{16})/.exec(created.stdout)?.[1] ?? "";
    const secret = /token {7}(rtn_\S+)/.exec(created.stdout)?.[1] ?? "";
    expect(created.stdout).toContain(`URL         https://routines.example.com/api/v1/routines/${triggerId}/fire`);
    expect(created.stdout).toContain(`-H "Authorization: Bearer ${secret}"`);

    const database = await readFile(join(dataDir, "routines.db"));
    expect(database.includes(secret)).toBe(false);

    const listed = await routines(["token", "list"], ROOT, env);
    expect(listed.stdout).toMatch(new RegExp(`^TRIGGER ID +REPOSITORY +ROUTINE +CREATED +STATE\\n${triggerId} +acme/app +triage +\\S+ +active\\n$`));
    expect(await routines(["token", "revoke", triggerId], ROOT, env)).toMatchObject({ status: 0, stdout: `Revoked ${triggerId}: its token no longer starts runs.\n` });
    expect((await routines(["token", "list"], ROOT, env)).stdout).toMatch(/ revoked\n$/);
    expect(await routines(["token", "revoke", triggerId], ROOT, env)).toMatchObject({ status: 1, stderr: `routines: no active API token ${triggerId}\n` });
    expect(await routines(["token", "create", "--repo", "acme", "--routine", "triage"], ROOT, env)).toMatchObject({ status: 2, stderr: "routines: token create needs --repo owner/name\n" });
  });
});

describe("routines runs", () => {
  it("lists recent runs and shows one with its transcript", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "routines-runs-"));
    const { SqliteStore } = await import("../src/runs/sqlite-store.js");
    const store = new SqliteStore(join(dataDir, "routines.db"));
    const createdAt = new Date(Date.now() - 5 * 60_000);
    await store.insertRun({
      id: "run_0001",
      routine: "review",
      repository: { owner: "acme", repo: "app" },
      installationId: 1,
      configSha: "sha",
      trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId: "d", sender: "octocat" },
      context: { withoutSecrets: false },
      status: "completed",
      outcome: "succeeded",
      summary: "Left two comments.",
      createdAt,
    });
    await store.appendEvent("run_0001", "assistant", { text: "Looking at the diff." }, createdAt);
    await store.addRunCost("run_0001", 0.42);
    await store.close();

    const env = { DATA_DIR: dataDir };
    expect(await routines(["runs"], ROOT, env)).toMatchObject({
      status: 0,
      stdout: "RUN       ROUTINE  REPOSITORY  TRIGGER              STATUS     OUTCOME    COST   AGE\nrun_0001  review   acme/app    pull_request.opened  completed  succeeded  $0.42  5m ago\n",
    });
    const shown = await routines(["runs", "show", "run_0001"], ROOT, env);
    expect(shown.stdout).toContain("run_0001  review in acme/app\n  trigger   pull_request.opened\n  status    completed\n  outcome   succeeded\n");
    expect(shown.stdout).toContain("\n  cost      $0.42\n");
    expect(shown.stdout).toContain("Left two comments.\n\nTranscript:\n  1. ");
    expect(shown.stdout).toContain(' assistant {"text":"Looking at the diff."}\n');
    expect(await routines(["runs", "show", "run_nope"], ROOT, env)).toMatchObject({ status: 1, stderr: "routines: no run run_nope\n" });
    expect((await routines(["runs", "--status", "done"], ROOT, env)).status).toBe(2);
  });
});

describe("routines disable and enable", () => {
  it("flips the installation's kill switch in the server's store", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "routines-kill-"));
    const env = { DATA_DIR: dataDir };
    expect(await routines(["disable", "42"], ROOT, env)).toMatchObject({
      status: 0,
      stdout: "Disabled routines for installation 42: its running and queued runs are cancelled, its schedules stay quiet and nothing new starts.\n",
    });
    const { SqliteStore } = await import("../src/runs/sqlite-store.js");
    const store = new SqliteStore(join(dataDir, "routines.db"));
    expect(await store.isInstallationDisabled(42)).toBe(true);
    expect((await routines(["enable", "42"], ROOT, env)).status).toBe(0);
    expect(await store.isInstallationDisabled(42)).toBe(false);
    await store.close();
    expect((await routines(["disable", "acme"], ROOT, env)).status).toBe(2);
  });
});
