import { describe, expect, it } from "vitest";
import { nextState, oneLine, statusBody, statusMarker, viewOf, type StatusState } from "../../src/github/status-comment-text.js";
import type { RunRecord } from "../../src/runs/store.js";

const URL = "https://routines.example.test/dashboard/runs";
const MARK = statusMarker("acme/app#7:review");

function run(id: string, createdAt: number, patch: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    routine: "review",
    repository: { owner: "acme", repo: "app" },
    installationId: 1,
    configSha: "sha",
    trigger: { kind: "github", index: 0, event: "pull_request", action: "opened", deliveryId: `d-${id}`, sender: "octocat" },
    context: { withoutSecrets: false, pullRequest: { number: 7, headSha: "abcdef1234567", headRef: "f", baseRef: "main", title: "T", author: "octocat" } },
    status: "queued",
    createdAt: new Date(createdAt),
    ...patch,
  };
}

const at = (s: number) => new Date(1_000_000 + s * 1000);
const view = (record: RunRecord, more: { step?: number; posted?: boolean; files?: { reviewed: number; total: number } } = {}) => viewOf(record, `${URL}/${record.id}`, more);
const finished = (id: string, created: number, patch: Partial<RunRecord> = {}) =>
  run(id, created, { status: "completed", outcome: "succeeded", startedAt: at(0), finishedAt: at(75), summary: "Looked at the login changes.\nMore detail.", costUsd: 0.0123, ...patch });

describe("the status comment's text", () => {
  it("says queued, then running with its step, then the outcome with summary, cost, duration and link", () => {
    let state: StatusState = {};
    state = nextState(state, view(run("run_a", 1)));
    expect(statusBody(state, MARK)).toBe(
      ["⏳ **`review`** is queued on `abcdef1`.", "", `<sub>[run \`run_a\`](${URL}/run_a) · started by the pull request's \`opened\`</sub>`, MARK].join("\n"),
    );
    state = nextState(state, view(run("run_a", 1, { status: "running", startedAt: at(0) }), { step: 3 }));
    expect(statusBody(state, MARK)?.split("\n")[0]).toBe("🔄 **`review`** is running on `abcdef1`: step 3.");
    state = nextState(state, view(finished("run_a", 1), { posted: true }));
    expect(statusBody(state, MARK)).toBe(
      [
        "✅ **`review`**: Succeeded on `abcdef1`.",
        "",
        "Looked at the login changes.",
        "",
        `<sub>cost $0.012 · took 1m15s · [run \`run_a\`](${URL}/run_a) · started by the pull request's \`opened\`</sub>`,
        MARK,
      ].join("\n"),
    );
  });

  it("says in how many files a run that posted nothing found no problems, and of how many when it did not read them all", () => {
    const quiet = (files: { reviewed: number; total: number }) => statusBody(nextState({}, view(finished("run_a", 1), { posted: false, files })), MARK)!.split("\n")[2];
    expect(quiet({ reviewed: 14, total: 14 })).toBe("No problems found in 14 files: the run posted no review or comment. Looked at the login changes.");
    expect(quiet({ reviewed: 1, total: 1 })).toBe("No problems found in 1 file: the run posted no review or comment. Looked at the login changes.");
    expect(quiet({ reviewed: 14, total: 16 })).toBe("No problems found in 14 of 16 files: the run posted no review or comment. Looked at the login changes.");
    expect(quiet({ reviewed: 0, total: 1 })).toBe("No problems found in 0 of 1 file: the run posted no review or comment. Looked at the login changes.");
  });

  it("says in words when a run posted nothing, never silence", () => {
    const quiet = (patch: Partial<RunRecord>) => statusBody(nextState({}, view(finished("run_a", 1, patch), { posted: false })), MARK)!.split("\n")[2];
    expect(quiet({})).toBe("No problems found: the run posted no review or comment. Looked at the login changes.");
    expect(quiet({ outcome: undefined, stopReason: "end_turn", summary: "I could not decide." })).toBe("Finished without posting anything: I could not decide.");
    expect(quiet({ outcome: undefined, stopReason: "end_turn", summary: undefined })).toBe("Finished without posting anything: the run gave no summary");
    expect(quiet({ status: "errored", outcome: undefined, summary: undefined, reason: "the model API failed: overloaded" })).toBe("the model API failed: overloaded Nothing was posted.");
  });

  it("names a slash command's author", () => {
    const record = run("run_a", 1, { trigger: { kind: "command", index: 0, deliveryId: "d", commentId: 5, author: "mona", issueNumber: 7 } });
    expect(statusBody(nextState({}, view(record)), MARK)).toContain("started by `/routine run` from @mona");
  });

  it("keeps a summary to one line and defuses hidden markers in it", () => {
    expect(oneLine("\n  first line  \nsecond")).toBe("first line");
    expect(oneLine("x".repeat(400))).toHaveLength(300);
    expect(oneLine(`see ${statusMarker("acme/app#8:other")}`)).not.toContain("<!--");
  });
});

describe("the status comment's states", () => {
  it("follows the newer run, keeps the last result, and never goes backwards", () => {
    let state: StatusState = {};
    const a = run("run_a", 1);
    state = nextState(state, view(a));
    state = nextState(state, view({ ...a, status: "running", startedAt: at(0) }, { step: 2 }));
    // A late "step 1" changes nothing.
    expect(nextState(state, view({ ...a, status: "running", startedAt: at(0) }, { step: 1 }))).toBe(state);
    // A newer run is queued while the first still runs: the comment follows it, and ignores the older one's steps.
    const b = run("run_b", 2);
    state = nextState(state, view(b));
    expect(state.live?.runId).toBe("run_b");
    expect(nextState(state, view({ ...a, status: "running", startedAt: at(0) }, { step: 5 }))).toBe(state);
    // The first finishes: its result shows under the newer run's state.
    state = nextState(state, view(finished("run_a", 1), { posted: true }));
    expect(state.live?.runId).toBe("run_b");
    expect(state.last?.runId).toBe("run_a");
    expect(statusBody(state, MARK)).toContain("Last result: ✅ **`review`**: Succeeded on `abcdef1`. Looked at the login changes.");
    // Late news of the finished run changes nothing.
    expect(nextState(state, view({ ...a, status: "running", startedAt: at(0) }, { step: 9 }))).toBe(state);
    // The newer one finishes: its result is the comment.
    state = nextState(state, view(finished("run_b", 2, { summary: "Second look." }), { posted: false }));
    expect(state.live).toBeUndefined();
    expect(statusBody(state, MARK)).toContain("No problems found: the run posted no review or comment. Second look.");
    // An older run's result never replaces a newer one's.
    expect(nextState(state, view(finished("run_a", 1), { posted: true }))).toBe(state);
  });

  it("lets a run that never started show only when there is nothing else", () => {
    const superseded = (id: string, created: number) => run(id, created, { status: "cancelled", reason: "superseded by run_c", finishedAt: at(1) });
    // Alone: it says what became of it.
    const alone = nextState(nextState({}, view(run("run_a", 1))), view(superseded("run_a", 1)));
    expect(statusBody(alone, MARK)?.split("\n")[0]).toBe("⏹️ **`review`**: Cancelled: superseded by run_c on `abcdef1`.");
    expect(statusBody(alone, MARK)).not.toContain("cost");
    // Beside a real result and a newer queued run, it hides neither.
    let state = nextState({}, view(finished("run_a", 1), { posted: true }));
    state = nextState(state, view(run("run_b", 2)));
    state = nextState(state, view(run("run_c", 3)));
    state = nextState(state, view(superseded("run_b", 2)));
    expect(state.live?.runId).toBe("run_c");
    expect(state.last?.runId).toBe("run_a");
  });

  it("shows a run queued again after a stop of the server", () => {
    const a = run("run_a", 1);
    let state = nextState({}, view({ ...a, status: "running", startedAt: at(0) }, { step: 4 }));
    state = nextState(state, view({ ...a, attempt: 2 }));
    expect(statusBody(state, MARK)?.split("\n")[0]).toBe("⏳ **`review`** is queued again (attempt 2) on `abcdef1`.");
  });
});
