// Large pull requests and verified findings, through the built server: a 300-file pull request is
// read page by page through the diff tools (GitHub's file listing paginated, one patch left out as
// too large), lock and generated files are skipped, and the review ends with a coverage line that
// names the files not reviewed. With review.verify, a finding the second model call rejects is not
// posted, the transcript says why, and a run whose only finding was rejected says it posted nothing.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText, type RecordedRequest } from "../support/fake-model.js";
import { pullRequestEvent } from "./support/payloads.js";
import { CLI, eventually, type ServerProcess } from "./support/server-process.js";
import { call, isStatusComment, keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const LARGE = "acme/large";
const VERIFIED = "acme/verified";
const onOpened = [{ github: { event: "pull_request", actions: ["opened"] } }];
const CALC = ["// calc", "export function add(a, b) {", "  return a + b;", "}", "export function sub(a, b) {", "  return a - b;", "}", ""].join("\n");

let world: World;
let server: ServerProcess;

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(44, "acme");
  // As GitHub lists them: 100 a page at most, and no patch for a file whose diff is too large.
  world.github.pullFileListing.paginate = true;
  world.github.pullFileListing.patchLimit = 20_000;
  await world.github.addRepository(LARGE, 44, {
    "README.md": "large\n",
    ".gitattributes": "gen/** linguist-generated\n",
    ".claude/routines.yml": routinesYml({ review: { prompt: "Review this pull request.", max_turns: 40, triggers: onOpened } }),
  });
  await world.github.addRepository(VERIFIED, 44, {
    "src/calc.js": CALC,
    ".claude/routines.yml": routinesYml({ checked: { prompt: "Review this pull request.", review: { verify: true }, triggers: onOpened } }),
  });
  server = await world.startServer();
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

const routines = async (...args: string[]) => (await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: server.cwd, env: { PATH: process.env.PATH } })).stdout;

/** The text of the tool results in a request's last message. */
const lastToolResult = (request: RecordedRequest) =>
  ((request.body.messages as Array<{ content: Array<{ type: string; content?: string | Array<{ text?: string }> }> | string }>).at(-1)!.content as Array<{ type: string; content?: string | Array<{ text?: string }> }>)
    .filter((block) => block.type === "tool_result")
    .map((block) => (typeof block.content === "string" ? block.content : (block.content ?? []).map((part) => part.text ?? "").join("\n")))
    .join("\n");

const reviewsOf = (repository: string, pull: number) => world.github.reviews.filter((review) => review.repository === repository && review.pull === pull);

describe("large pull requests, as deployed", () => {
  it("reads a 300-file diff through the diff tools, skips lock and generated files, and ends the review with a coverage line naming the files not reviewed", async () => {
    const { github, model } = world;
    const marker = `[large-${randomBytes(4).toString("hex")}]`;
    const lockSecret = `LOCKFILE-${randomBytes(8).toString("hex")}`;
    const files: Record<string, string> = {};
    for (let i = 0; i < 293; i++) {
      files[`src/mod${String(i).padStart(3, "0")}.js`] = Array.from({ length: 10 }, (_, line) => `export const value${line} = ${i * 10 + line}; // module ${i}`).join("\n") + "\n";
    }
    // The pull request's own .gitattributes would hide its code from the review: it is not the one read.
    files[".gitattributes"] = "gen/** linguist-generated\nsrc/** linguist-generated\n";
    files["package-lock.json"] = `{ "lockfileVersion": 3, "note": "${lockSecret}" }\n`;
    files["yarn.lock"] = `# ${lockSecret}\n`;
    files["dist/app.min.js"] = `var a=1;/*${lockSecret}*/\n`;
    files["dist/app.js.map"] = `{"version":3,"x":"${lockSecret}"}\n`;
    files["gen/schema.ts"] = `export type Generated = "${lockSecret}";\n`;
    files["src/huge.js"] = Array.from({ length: 600 }, (_, line) => `export const huge${line} = "${"h".repeat(40)}";`).join("\n") + "\n";
    expect(Object.keys(files)).toHaveLength(300);
    await github.commit(LARGE, "big", files);
    const pull = await github.openPullRequest(LARGE, { head: "big", title: `Add modules ${marker}`, user: "alice" });
    const head = await github.sha(LARGE, "refs/heads/big");

    model.session(marker, (turn, _attempt, request) => {
      if (turn === 0) return call("pull_request_files", {});
      const last = lastToolResult(request);
      if (turn === 1) return call("pull_request_diff", { page: 1 });
      const next = /Next: pull_request_diff page (\d+)/.exec(last);
      if (next) return call("pull_request_diff", { page: Number(next[1]) });
      if (!last.startsWith("Posted ")) {
        return call("create_review", { body: "One remark.", comments: [{ path: "src/mod001.js", line: 1, body: "`value0` could be named for what it holds." }] });
      }
      return outcome("One remark on a large pull request.");
    });
    await server.deliver("pull_request", await pullRequestEvent(github, LARGE, pull.number, "opened"));
    const check = await eventually(() => github.checkRuns.find((run) => run.head_sha === head && run.status === "completed"), { timeoutMs: 110_000, what: "the review of the large pull request" });
    expect(check.conclusion).toBe("success");

    const requests = model.sessionRequests(marker);
    // The diff is not in the prompt: it is read through the tools, page by page.
    const prompt = firstUserText(requests[0]!.body);
    expect(prompt).toContain("The diff is too large to show here (");
    expect(prompt).toContain("- … and 200 more files (pull_request_files lists them all)");
    expect(prompt).not.toContain("export const value0 = 0;");
    // GitHub's listing was read page by page, 100 files a page.
    const listings = github.find("GET", `/repos/${LARGE}/pulls/${pull.number}/files`);
    // (the run's own listing, and the config check's, which looks for a changed routines.yml)
    expect([...new Set(listings.map((request) => request.query.get("page") ?? "1"))]).toEqual(["1", "2", "3"]);
    expect(listings.every((request) => request.query.get("per_page") === "100")).toBe(true);

    // The listing the agent saw: sizes, skipped files with why, the file without a patch.
    const listing = lastToolResult(requests[1]!);
    expect(listing).toMatch(/^300 files changed on the pull request, 5 skipped by default\. Page 1 of 3\./);
    expect(listing).toMatch(/- package-lock\.json \(added, \+1 -0, diff \d+ B; skipped \(lock file\); read it anyway with pull_request_diff path if it matters\)/);
    expect(listing).toMatch(/- src\/mod0\d\d\.js \(added, \+10 -0, diff \d+ B; diff page \d+\)/);
    expect(listing).toContain("- src/huge.js (added, +600 -0, no diff from GitHub (binary, or too large for GitHub to show): look at the file with view)");
    const pageOne = lastToolResult(requests[2]!);
    expect(pageOne).toContain("--- src/mod000.js (added, +10 -0)");
    // Lock and generated files never reached the model, and the pull request's .gitattributes hid nothing.
    expect(model.requests.some((request) => JSON.stringify(request.body).includes(lockSecret))).toBe(false);
    const seenDiffs = requests.map(lastToolResult).join("\n");
    expect(seenDiffs).toContain("--- src/mod292.js (added, +10 -0)");
    expect(seenDiffs).toContain("--- .gitattributes (modified, +1 -0)");

    // The review ends with its coverage: 294 of 300 read, the skipped ones and the one without a diff named.
    const [review] = reviewsOf(LARGE, pull.number);
    expect(review).toBeDefined();
    expect(review!.body).toContain(
      "Reviewed 294 of 300 files; not reviewed: dist/app.js.map (generated), dist/app.min.js (generated), gen/schema.ts (generated), package-lock.json (lock file), yarn.lock (lock file), src/huge.js.",
    );
    expect(review!.comments.map((comment) => [comment.path, comment.line])).toEqual([["src/mod001.js", 1]]);
    // The agent was told the same line.
    expect(lastToolResult(requests.at(-1)!)).toContain("The review ends with its coverage: Reviewed 294 of 300 files;");
    const shown = await routines("runs", "show", check.external_id!);
    expect(shown).toMatch(/ review_coverage \{"total":300,"reviewed":294,/);
  }, 120_000);
});

describe("verified findings, as deployed", () => {
  const verdict = (answer: "confirm" | "reject", reason: string) => call("verdict", { verdict: answer, reason });

  it("checks each finding with a second model call, posts the confirmed one, drops the rejected one and keeps why in the transcript", async () => {
    const { github, model } = world;
    const marker = `[verified-${randomBytes(4).toString("hex")}]`;
    const confirmMark = `CONFIRM-${randomBytes(4).toString("hex")}`;
    const rejectMark = `REJECT-${randomBytes(4).toString("hex")}`;
    const reason = `Line 6 returns a - b, which is what sub should do (${randomBytes(4).toString("hex")}).`;
    await github.commit(VERIFIED, "tune", { "src/calc.js": CALC.replace("a + b", "a + b + 0").replace("a - b", "a - b // ok") });
    const pull = await github.openPullRequest(VERIFIED, { head: "tune", title: `Tune calc ${marker}`, user: "alice" });
    const head = await github.sha(VERIFIED, "refs/heads/tune");
    model.session(marker, [
      call("create_review", {
        body: "Two remarks.",
        comments: [
          { path: "src/calc.js", line: 3, body: `Adding 0 changes nothing: drop it. ${confirmMark}` },
          { path: "src/calc.js", line: 6, body: `\`sub\` swaps its operands. ${rejectMark}` },
        ],
      }),
      outcome("Two remarks, one of them checked away."),
    ]);
    // The second look: keyed by the finding's own words, which its prompt carries.
    model.session(confirmMark, [verdict("confirm", "The + 0 is there on line 3.")]);
    model.session(rejectMark, [verdict("reject", reason)]);
    await server.deliver("pull_request", await pullRequestEvent(github, VERIFIED, pull.number, "opened"));
    const check = await eventually(() => github.checkRuns.find((run) => run.head_sha === head && run.status === "completed"), { timeoutMs: 90_000, what: "the verified review" });
    expect(check.conclusion).toBe("success");

    // Each verification: the small model, the verdict tool forced, the finding and the code around it.
    const [checkConfirm] = model.sessionRequests(confirmMark);
    const [checkReject] = model.sessionRequests(rejectMark);
    for (const request of [checkConfirm!, checkReject!]) {
      expect(request.body.model).toBe("claude-haiku-4-5");
      expect(request.body.tool_choice).toEqual({ type: "tool", name: "verdict" });
      expect(request.body.tools.map((tool: { name: string }) => tool.name)).toEqual(["verdict"]);
    }
    const rejectPrompt = firstUserText(checkReject!.body);
    expect(rejectPrompt).toContain("The finding, about src/calc.js line 6:");
    expect(rejectPrompt).toContain("> 6    return a - b // ok;");
    expect(rejectPrompt).not.toContain(marker);

    // Only the confirmed finding was posted.
    const reviews = reviewsOf(VERIFIED, pull.number);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]!.comments.map((comment) => [comment.line, comment.body.split("\n")[0]])).toEqual([[3, `Adding 0 changes nothing: drop it. ${confirmMark}`]]);
    expect(JSON.stringify(github.reviews)).not.toContain(rejectMark);
    // The agent was told what was dropped and why.
    const [, afterReview] = model.sessionRequests(marker);
    expect(lastToolResult(afterReview!)).toContain(`Not posted, rejected when checked against the code:\n- src/calc.js line 6: ${reason}`);
    // The transcript keeps the rejected finding with the reason, and the calls' cost counts in the run's.
    const shown = await routines("runs", "show", check.external_id!);
    const verified = shown
      .split("\n")
      .filter((line) => / finding_verified /.test(line))
      .map((line) => JSON.parse(line.slice(line.indexOf("{"))) as { verdict: string; reason: string; finding: string; model: string; costUsd: number; totalCostUsd: number });
    expect(verified.map((entry) => entry.verdict)).toEqual(["confirm", "reject"]);
    expect(verified[1]).toMatchObject({ reason, model: "claude-haiku-4-5", finding: expect.stringContaining(rejectMark) });
    expect(verified[1]!.costUsd).toBeGreaterThan(0);
    // Every priced call in transcript order, the agent's turns and the checks: the running total counts them all.
    const priced = shown
      .split("\n")
      .filter((line) => / (model_response|finding_verified) /.test(line))
      .map((line) => JSON.parse(line.slice(line.indexOf("{"))) as { costUsd: number; totalCostUsd: number });
    const sum = priced.reduce((total, entry) => total + entry.costUsd, 0);
    expect(priced).toHaveLength(4);
    expect(priced.at(-1)!.totalCostUsd).toBeCloseTo(sum, 10);
    expect(Number(/\n {2}cost {6}\$([\d.]+)\n/.exec(shown)![1])).toBeCloseTo(sum, 2);
  }, 120_000);

  it("posts nothing when every finding is rejected, and the status comment says the run posted nothing", async () => {
    const { github, model } = world;
    const marker = `[rejected-${randomBytes(4).toString("hex")}]`;
    const rejectMark = `REJECT-${randomBytes(4).toString("hex")}`;
    await github.commit(VERIFIED, "rename", { "src/calc.js": CALC.replace("// calc", "// calculator") });
    const pull = await github.openPullRequest(VERIFIED, { head: "rename", title: `Rename ${marker}`, user: "alice" });
    const head = await github.sha(VERIFIED, "refs/heads/rename");
    model.session(marker, (turn, _attempt, request) =>
      turn === 0
        ? call("create_review", { body: "One remark.", comments: [{ path: "src/calc.js", line: 1, body: `The comment is misspelled. ${rejectMark}` }] })
        : outcome(lastToolResult(request).startsWith("Nothing new to post") ? "Checked the rename; nothing to report." : "Posted a remark."),
    );
    model.session(rejectMark, [verdict("reject", "The comment is spelled correctly.")]);
    await server.deliver("pull_request", await pullRequestEvent(github, VERIFIED, pull.number, "opened"));
    await eventually(() => github.checkRuns.find((run) => run.head_sha === head && run.status === "completed"), { timeoutMs: 90_000, what: "the review whose finding was rejected" });

    expect(reviewsOf(VERIFIED, pull.number)).toEqual([]);
    const status = () => github.comments.find((comment) => comment.repository === VERIFIED && comment.issue === pull.number && isStatusComment(comment));
    await eventually(() => status()?.body.includes("No problems found in 1 file: the run posted no review or comment. Checked the rename; nothing to report."), {
      what: "the status comment saying nothing was posted",
    });
  }, 120_000);
});
