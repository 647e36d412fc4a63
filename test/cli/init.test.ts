// `routines init`, run as a user runs it (the built command in a fresh git checkout), and its
// question in a terminal, asked through the command's own function.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CliError, type Io } from "../../src/cli/io.js";
import { init } from "../../src/cli/init.js";
import { USES } from "../../src/cli/templates.js";
import { assertRunsAnywhere } from "../support/runs-anywhere.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const TEMPLATES = join(ROOT, "templates");

const exec = promisify(execFile);

/** A fresh git checkout whose origin is on GitHub. */
async function checkout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "routines-init-"));
  await exec("git", ["init", "-q", dir]);
  await exec("git", ["-C", dir, "remote", "add", "origin", "https://github.com/acme/app.git"]);
  return dir;
}

/** The built command, as a user runs it in `cwd`, with no terminal on standard input. */
async function routines(args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH } });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const read = (dir: string, path: string) => readFile(join(dir, path), "utf8");
const claudeFiles = async (dir: string) => (existsSync(join(dir, ".claude")) ? (await readdir(join(dir, ".claude"), { recursive: true })).sort() : []);

describe("routines init", () => {
  it("writes .claude/routines.yml and the prompt file of one template, checks them and says what comes next", async () => {
    const dir = await checkout();
    const result = await routines(["init", "--use", "review"], dir);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toContain("Wrote .claude/routines.yml, .claude/prompts/review.md.\n.claude/routines.yml: valid, 1 routine (review)\n");
    expect(result.stdout).toContain('git add .claude && git commit -m "Add routines" && git push');
    expect(result.stdout).toMatch(/review +pull_request \(opened, synchronize, reopened, ready_for_review\) where draft false\n +`\/routine run review` in pull request comments/);
    // No api trigger, so no token to create.
    expect(result.stdout).not.toContain("routines token create");

    expect(await claudeFiles(dir)).toEqual(["prompts", "prompts/review.md", "routines.yml"]);
    expect(await read(dir, ".claude/prompts/review.md")).toBe(await read(TEMPLATES, "review/prompts/review.md"));
    const config = parse(await read(dir, ".claude/routines.yml"));
    expect(config).toEqual({ version: 1, environments: { offline: { network: "none" } }, routines: { review: parse(await read(TEMPLATES, "review/routines.yml")).routines.review } });
    // The template's comments come along: the file explains itself.
    expect(await read(dir, ".claude/routines.yml")).toContain("# rerun with a comment: /routine run review");
    expect(await routines(["validate"], dir)).toMatchObject({ status: 0, stdout: ".claude/routines.yml: valid, 1 routine (review)\n" });
  });

  it.each(USES)("writes %s alone, which validates and needs nothing the repository lacks", async (use) => {
    const dir = await checkout();
    const result = await routines(["init", "--use", use], dir);
    expect(result).toMatchObject({ status: 0, stderr: "", stdout: expect.stringContaining(`.claude/routines.yml: valid, 1 routine (${use})\n`) });
    expect(await routines(["validate"], dir)).toMatchObject({ status: 0 });
    assertRunsAnywhere(parse(await read(dir, ".claude/routines.yml")));
  });

  it("writes the issue and deploy templates with the triggers they need", async () => {
    const dir = await checkout();
    const result = await routines(["init", "--use", "backlog-triage,deploy-verification"], dir);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toContain("Wrote .claude/routines.yml, .claude/prompts/backlog-triage.md, .claude/prompts/deploy-verification.md.");
    expect(result.stdout).toContain(".claude/routines.yml: valid, 2 routines (backlog-triage, deploy-verification)\n");
    const config = parse(await read(dir, ".claude/routines.yml"));
    expect(Object.keys(config.routines)).toEqual(["backlog-triage", "deploy-verification"]);
    expect(config.routines["backlog-triage"].triggers).toEqual([{ github: { event: "issues", actions: ["opened"] } }, { schedule: { preset: "weekly", day: "monday", time: "08:00" } }]);
    expect(config.routines["deploy-verification"].triggers).toEqual([{ github: { event: "workflow_run", filters: { workflow: "Deploy", conclusion: "success" } } }]);
    assertRunsAnywhere(config);
  });

  it("combines several templates into one file: one version, routines keyed by name, an environment they share written once", async () => {
    const dir = await checkout();
    const result = await routines(["init", "--use", "port, review,alert-triage,review,docs-drift"], dir);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toContain(".claude/routines.yml: valid, 4 routines (port, review, alert-triage, docs-drift)\n");
    // The api-triggered routines get their token command, with the repository of the checkout's origin.
    expect(result.stdout).toContain("routines token create --repo acme/app --routine port\n       routines token create --repo acme/app --routine alert-triage\n");
    expect(result.stdout).toContain("       docs-drift    Mondays at 06:00 (UTC)\n");

    const text = await read(dir, ".claude/routines.yml");
    expect(text.match(/^version: 1$/gm)).toHaveLength(1);
    const config = parse(text);
    expect(Object.keys(config.routines)).toEqual(["port", "review", "alert-triage", "docs-drift"]);
    expect(config.environments).toEqual({ offline: { network: "none" } });
    expect(await claudeFiles(dir)).toEqual(["prompts", ...["alert-triage", "docs-drift", "port", "review"].map((use) => `prompts/${use}.md`), "routines.yml"]);
    expect(await routines(["validate"], dir)).toMatchObject({ status: 0 });
  });

  it("combines all six into one file, which validates", async () => {
    const dir = await checkout();
    const result = await routines(["init", "--use", USES.join(",")], dir);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(result.stdout).toContain(`.claude/routines.yml: valid, 6 routines (${USES.join(", ")})\n`);
    expect(await routines(["validate"], dir)).toMatchObject({ status: 0, stdout: `.claude/routines.yml: valid, 6 routines (${USES.join(", ")})\n` });
    const config = parse(await read(dir, ".claude/routines.yml"));
    expect(Object.keys(config.routines)).toEqual(USES);
    expect(config.environments).toEqual({ offline: { network: "none" } });
    for (const use of USES) expect(config.routines[use].prompt_file).toBe(`.claude/prompts/${use}.md`);
    assertRunsAnywhere(config);
  });

  it("refuses to replace an existing routines file or prompt, writes nothing, and says how to", async () => {
    const dir = await checkout();
    await mkdir(join(dir, ".claude"));
    const mine = "version: 1\nroutines:\n  mine:\n    prompt: Keep me.\n";
    await writeFile(join(dir, ".claude/routines.yml"), mine);
    expect(await routines(["init", "--use", "review"], dir)).toEqual({
      status: 1,
      stdout: "",
      stderr: "routines: .claude/routines.yml already exists; nothing was written. Rerun with --force to replace it.\n",
    });
    expect(await read(dir, ".claude/routines.yml")).toBe(mine);
    expect(await claudeFiles(dir)).toEqual(["routines.yml"]);

    // A prompt file of the same name counts too.
    const other = await checkout();
    await mkdir(join(other, ".claude/prompts"), { recursive: true });
    await writeFile(join(other, ".claude/prompts/port.md"), "My own port prompt.\n");
    expect(await routines(["init", "--use", "review,port"], other)).toMatchObject({ status: 1, stderr: expect.stringContaining(".claude/prompts/port.md already exists; nothing was written") });
    expect(await claudeFiles(other)).toEqual(["prompts", "prompts/port.md"]);
  });

  it("replaces them with --force, saying so", async () => {
    const dir = await checkout();
    await mkdir(join(dir, ".claude"));
    await writeFile(join(dir, ".claude/routines.yml"), "version: 1\nroutines:\n  mine:\n    prompt: Replace me.\n");
    const result = await routines(["init", "--use", "docs-drift", "--force"], dir);
    expect(result).toMatchObject({ status: 0, stdout: expect.stringContaining("(replacing .claude/routines.yml)") });
    expect(Object.keys(parse(await read(dir, ".claude/routines.yml")).routines)).toEqual(["docs-drift"]);
  });

  it("rejects unknown uses, listing the known ones, and writes nothing", async () => {
    const dir = await checkout();
    expect(await routines(["init", "--use", "review,revue"], dir)).toEqual({
      status: 2,
      stdout: "",
      stderr: 'routines: unknown use "revue"; choose from review, backlog-triage, alert-triage, deploy-verification, docs-drift, port\n',
    });
    expect(await routines(["init", "--use", ","], dir)).toMatchObject({ status: 2, stderr: expect.stringContaining("--use needs at least one of: review,") });
    expect(await claudeFiles(dir)).toEqual([]);
  });

  it("without --use and without a terminal to ask on, says which option to give", async () => {
    const dir = await checkout();
    expect(await routines(["init"], dir)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^routines: say which routines to write: --use <uses>, one or more of review, /) });
    expect(await claudeFiles(dir)).toEqual([]);
  });

  it("writes at the top of the checkout when run in a folder of it, and refuses to run outside a checkout", async () => {
    const dir = await checkout();
    await mkdir(join(dir, "src/deep"), { recursive: true });
    const result = await routines(["init", "--use", "port"], join(dir, "src/deep"));
    expect(result).toMatchObject({ status: 0, stdout: expect.stringContaining("Wrote ../../.claude/routines.yml, ../../.claude/prompts/port.md.\n../../.claude/routines.yml: valid, 1 routine (port)") });
    expect(await claudeFiles(dir)).toEqual(["prompts", "prompts/port.md", "routines.yml"]);

    const nowhere = await mkdtemp(join(tmpdir(), "routines-init-no-git-"));
    expect(await routines(["init", "--use", "port"], nowhere)).toMatchObject({ status: 2, stderr: expect.stringContaining("not in a git checkout") });
  });

  it("names a placeholder for the repository when the checkout has no GitHub origin", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-init-"));
    await exec("git", ["init", "-q", dir]);
    expect((await routines(["init", "--use", "alert-triage"], dir)).stdout).toContain("routines token create --repo <owner/name> --routine alert-triage");
  });

  it("prints its usage with --help and refuses options it does not take", async () => {
    const dir = await checkout();
    expect(await routines(["init", "--help"], dir)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: routines init \[--use <uses>\] \[--force\]/) });
    expect(await routines(["init", "--uses", "review"], dir)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^routines: Unknown option '--uses'/) });
  });
});

describe("routines init in a terminal", () => {
  /** An Io whose questions are answered from `answers`, in order. */
  function terminal(answers: string[]) {
    const out: string[] = [];
    const questions: string[] = [];
    const io: Io = {
      out: (text) => out.push(text),
      err: (text) => out.push(text),
      env: {},
      ask: async (question) => {
        questions.push(question);
        const answer = answers.shift();
        if (answer === undefined) throw new Error("asked once too often");
        return answer;
      },
    };
    return { io, out, questions };
  }

  it("asks with a numbered list, takes numbers or names, and asks again after a wrong answer", async () => {
    const dir = await checkout();
    const { io, out, questions } = terminal(["7", "3, docs-drift"]);
    expect(await init({ force: false, cwd: dir }, io)).toBe(0);
    expect(out[0]).toBe(
      [
        "Which routines should this repository start with?",
        "  1. review               inline review of each pull request that is ready",
        "  2. backlog-triage       labels new issues and asks for what is missing; sweeps untriaged issues weekly",
        "  3. alert-triage         monitoring POSTs an alert; a draft pull request with a fix, or a report",
        "  4. deploy-verification  after the Deploy workflow succeeds, checks what shipped; comments or opens an issue",
        "  5. docs-drift           weekly, compares the docs with the code and opens a pull request",
        "  6. port                 ports a library or module as asked and opens a pull request",
        "",
      ].join("\n"),
    );
    expect(questions).toHaveLength(2);
    expect(out[1]).toContain('unknown use "7"');
    expect(Object.keys(parse(await read(dir, ".claude/routines.yml")).routines)).toEqual(["alert-triage", "docs-drift"]);
  });

  it("takes an empty answer as review, and gives up after three wrong ones", async () => {
    const dir = await checkout();
    expect(await init({ force: false, cwd: dir }, terminal([""]).io)).toBe(0);
    expect(Object.keys(parse(await read(dir, ".claude/routines.yml")).routines)).toEqual(["review"]);

    const other = await checkout();
    await expect(init({ force: false, cwd: other }, terminal(["x", "y", "z"]).io)).rejects.toThrow(CliError);
    expect(await claudeFiles(other)).toEqual([]);
  });

  it("does not ask when --use is given", async () => {
    const dir = await checkout();
    const { io, questions } = terminal([]);
    expect(await init({ use: "port", force: false, cwd: dir }, io)).toBe(0);
    expect(questions).toEqual([]);
  });
});

describe("the templates", () => {
  it("are one folder each, with a routines.yml of one routine named as the folder, its prompts and a README", async () => {
    const folders = (await readdir(TEMPLATES, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    expect(folders.sort()).toEqual([...USES].sort());
    for (const use of USES) {
      const config = parse(await read(TEMPLATES, `${use}/routines.yml`));
      expect(config.version).toBe(1);
      expect(Object.keys(config.routines)).toEqual([use]);
      expect(await readdir(join(TEMPLATES, use, "prompts"))).toEqual([`${use}.md`]);
      expect(await read(TEMPLATES, `${use}/README.md`)).toMatch(new RegExp(`^# ${use}\\n[^]*\\*\\*Trigger:\\*\\*[^]*\\*\\*Adapt it:\\*\\*`));
    }
  });

  it("are listed in the README's Templates section, each linked", async () => {
    const readme = await read(ROOT, "README.md");
    const section = /\n## Templates\n([^]*?)\n## /.exec(readme)?.[1] ?? "";
    for (const use of USES) expect(section).toContain(`(templates/${use}/)`);
    expect(readme).toMatch(/## Getting started[^]*routines init/);
  });

  it("ship in the npm package", async () => {
    const { files } = JSON.parse(await read(ROOT, "package.json")) as { files?: string[] };
    if (files) expect(files).toContain("templates");
  });
});
