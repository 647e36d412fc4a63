// Attacks on the server's own git, through what a run's commands write into the working tree's
// .git. The sandbox keeps .git's config and hooks from commands; on a host without it
// (ROUTINES_ALLOW_UNSANDBOXED=true, here a server whose PATH has no bwrap) a command writes them
// freely, and the server commits and pushes the run's work afterwards, outside any sandbox, with
// the run's token at hand. The command plants hooks where git looks for them and where
// core.hooksPath says, core.fsmonitor, a required filter driver for every file, a signing program,
// an ssh command, a credential helper, an askpass program, and alternates into another
// repository's objects; each program leaves a mark (with its environment) when it runs. The push
// must go through and run none of them. Then a link planted as a loose object offers another
// repository's object on the machine as the run's own: the push must not send it.
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commentEvent } from "../e2e/support/payloads.js";
import { eventually, type ServerProcess } from "../e2e/support/server-process.js";
import { call, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "../e2e/support/world.js";

const REPO = "acme/gitconfig";

let world: World;
let server: ServerProcess;
let marks: string;
let other: { objects: string; blob: string; secret: string };

/** A directory of links to every program on PATH but bwrap: a host that cannot sandbox. */
async function pathWithoutBwrap(): Promise<string> {
  const farm = await mkdtemp(join(tmpdir(), "routines-attack-path-"));
  const seen = new Set<string>();
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name === "bwrap" || seen.has(name)) continue;
      seen.add(name);
      await symlink(join(dir, name), join(farm, name)).catch(() => undefined);
    }
  }
  return farm;
}

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(43, "acme");
  await world.github.addRepository(REPO, 43, {
    "src/app.js": "export const a = 1;\n",
    ".claude/routines.yml": routinesYml({
      fix: { prompt: "E2E-GIT-CONFIG: change the code as asked.", triggers: [{ command: { issues: true } }] },
      borrow: { prompt: "E2E-GIT-BORROW: change the code as asked.", triggers: [{ command: { issues: true } }] },
    }),
  });
  world.github.permissions.set(`${REPO}:octocat`, "write");
  // Where the planted programs leave their marks: outside the tree, writable by all.
  marks = await mkdtemp(join(tmpdir(), "routines-attack-marks-"));
  await chmod(marks, 0o777);
  // Another repository on the machine, with an object the run must never reach.
  const otherDir = await mkdtemp(join(tmpdir(), "routines-attack-other-"));
  const secret = `other-secret-${randomBytes(12).toString("hex")}`;
  await promisify(execFile)("git", ["init", "-q"], { cwd: otherDir });
  const { stdout } = await promisify(execFile)("sh", ["-c", `printf '%s\\n' '${secret}' | git hash-object -w --stdin`], { cwd: otherDir });
  other = { objects: join(otherDir, ".git", "objects"), blob: stdout.trim(), secret };
  server = await world.startServer({ extra: { ROUTINES_ALLOW_UNSANDBOXED: "true" }, env: { PATH: await pathWithoutBwrap() } });
}, 120_000);

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

describe("the server's git, given a working tree whose .git a command wrote", () => {
  it("commits and pushes the run's work running nothing planted there, whatever its alternates name", async () => {
    const { github, model } = world;
    const evil = `#!/bin/sh\necho "ran: $0 $*" >> ${marks}/ran\nenv >> ${marks}/ran\n[ -n "$1" ] || cat\n`;
    const hooks = ["pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-index-change", "reference-transaction", "pre-push", "pre-auto-gc", "post-checkout", "post-merge", "post-rewrite"];
    const plant = [
      `printf '%s' '${evil.replaceAll("'", "'\\''")}' > evil.sh && chmod +x evil.sh`,
      "mkdir -p my-hooks",
      ...hooks.map((hook) => `cp evil.sh .git/hooks/${hook} && cp evil.sh my-hooks/${hook}`),
      `echo '* filter=evil' > .gitattributes`,
      `echo ${other.objects} > .git/objects/info/alternates`,
      // Last: the command's own git runs none of it.
      ...[
        ["core.hooksPath", "$PWD/my-hooks"],
        ["core.fsmonitor", "$PWD/evil.sh"],
        ["filter.evil.clean", "$PWD/evil.sh"],
        ["filter.evil.smudge", "$PWD/evil.sh"],
        ["filter.evil.required", "true"],
        ["commit.gpgSign", "true"],
        ["gpg.program", "$PWD/evil.sh"],
        ["core.sshCommand", "$PWD/evil.sh"],
        ["credential.helper", "!$PWD/evil.sh"],
        ["core.askPass", "$PWD/evil.sh"],
        ["core.pager", "$PWD/evil.sh"],
      ].map(([key, value]) => `git config ${key} "${value}"`),
      "echo planted",
    ].join(" && ");
    model.session("E2E-GIT-CONFIG", [
      call("shell", { command: plant }),
      call("edit_file", { path: "src/app.js", old_text: "a = 1;", new_text: "a = 2;" }),
      call("push_branch", { branch: "claude/planted", commit_message: "Raise a" }),
      outcome("Pushed."),
    ]);
    expect((await server.deliver("issue_comment", commentEvent(github, REPO, 1, "/routine run fix", { onPullRequest: false }))).status).toBeLessThan(300);
    await eventually(() => model.sessionRequests("E2E-GIT-CONFIG").length >= 4 || undefined, { what: "the session's end", timeoutMs: 90_000 });

    const results = model
      .sessionRequests("E2E-GIT-CONFIG")
      .at(-1)!
      .body.messages.flatMap((message: { content: unknown }) => (Array.isArray(message.content) ? message.content : []))
      .filter((block: { type: string }) => block.type === "tool_result") as Array<{ content: string; is_error?: boolean }>;
    // The host could not sandbox, and the command wrote everything it meant to.
    expect(server.output()).toMatch(/cannot sandbox commands, and ROUTINES_ALLOW_UNSANDBOXED is set/);
    expect(results[0]!.content).toContain("planted");
    // Nothing planted ran.
    expect(await readFile(join(marks, "ran"), "utf8").catch(() => "nothing ran")).toBe("nothing ran");
    // The push went through, with the run's change and the planted files as they are.
    expect(results[2]!.is_error).toBeFalsy();
    expect(await github.file(REPO, "claude/planted", "src/app.js")).toContain("export const a = 2;");
    expect(await github.file(REPO, "claude/planted", ".gitattributes")).toContain("* filter=evil");
    // The other repository's object went nowhere: not to GitHub.
    const bare = github.repository(REPO).bare;
    const present = await promisify(execFile)("git", ["cat-file", "-e", other.blob], { cwd: bare }).then(
      () => true,
      () => false,
    );
    expect(present).toBe(false);
  });

  it("pushes no object a link in .git offers from another repository on the machine", async () => {
    const { github, model } = world;
    const [head, tail] = [other.blob.slice(0, 2), other.blob.slice(2)];
    const plant = [
      // The other repository's object, offered as the run's own by a link; the command's git commits it.
      `mkdir -p .git/objects/${head} && ln -s ${join(other.objects, head, tail)} .git/objects/${head}/${tail}`,
      `git update-index --add --cacheinfo 100644,${other.blob},borrowed.txt`,
      "git -c user.name=Run -c user.email=run@example.com commit -qm Borrow",
      "echo planted",
    ].join(" && ");
    model.session("E2E-GIT-BORROW", [
      call("shell", { command: plant }),
      call("edit_file", { path: "src/app.js", old_text: "a = 1;", new_text: "a = 4;" }),
      call("push_branch", { branch: "claude/borrowed", commit_message: "Raise a" }),
      outcome("Pushed."),
    ]);
    expect((await server.deliver("issue_comment", commentEvent(github, REPO, 2, "/routine run borrow", { onPullRequest: false }))).status).toBeLessThan(300);
    await eventually(() => model.sessionRequests("E2E-GIT-BORROW").length >= 4 || undefined, { what: "the session's end", timeoutMs: 90_000 });

    const requests = model.sessionRequests("E2E-GIT-BORROW");
    const results = requests
      .at(-1)!
      .body.messages.flatMap((message: { content: unknown }) => (Array.isArray(message.content) ? message.content : []))
      .filter((block: { type: string }) => block.type === "tool_result") as Array<{ content: string; is_error?: boolean }>;
    expect(results[0]!.content).toContain("planted");
    // The other repository's object is not on GitHub, nor its text anywhere the model saw.
    const present = await promisify(execFile)("git", ["cat-file", "-e", other.blob], { cwd: github.repository(REPO).bare }).then(
      () => true,
      () => false,
    );
    expect(present).toBe(false);
    expect(JSON.stringify(requests.map((request) => request.body.messages))).not.toContain(other.secret);
    // The push was refused for the object it could not have: nothing of the branch went out.
    expect(results[2]).toMatchObject({ is_error: true });
    expect(await github.file(REPO, "claude/borrowed", "src/app.js")).toBeUndefined();
  });
});

