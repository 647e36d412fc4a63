import { describe, expect, it } from "vitest";
import { RunEvents, type RunUpdate } from "../../src/runs/run-events.js";
import { LocalSignals } from "../../src/runs/signals.js";
import type { RunRecord } from "../../src/runs/store.js";

const run = (id: string, status: RunRecord["status"]) => ({ id, status }) as RunRecord;

describe("RunEvents", () => {
  it("tells a run's watchers of its transcript events and status, read once from the store, whichever process sent the signal", async () => {
    const signals = new LocalSignals();
    const read: string[] = [];
    const runs = new Map([["r1", run("r1", "running")]]);
    const events = new RunEvents(signals, { getRun: async (id) => (read.push(id), runs.get(id)) });
    const first: RunUpdate[] = [];
    const second: RunUpdate[] = [];
    const other: RunUpdate[] = [];
    const stop = events.watch("r1", (update) => first.push(update));
    events.watch("r1", (update) => second.push(update));
    events.watch("r2", (update) => other.push(update));

    const event = { seq: 1, at: new Date(), kind: "assistant", data: { text: "hi" } };
    events.event("r1", event);
    // As another process's signal arrives: the event too large to send.
    signals.publish({ type: "transcript", runId: "r1", seq: 2, kind: "tool_result" });
    events.status(run("r1", "completed"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(first).toEqual([{ type: "event", event }, { type: "event" }, { type: "status", run: run("r1", "running") }]);
    expect(second).toEqual(first);
    expect(other).toEqual([]);
    // One read for both watchers; none for a run nobody here watches.
    signals.publish({ type: "status", runId: "r3" });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(read).toEqual(["r1"]);

    // Signals may have been missed: every watched run is looked at again.
    stop();
    second.length = 0;
    signals.publish({ type: "resync" });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(second).toEqual([{ type: "event" }, { type: "status", run: run("r1", "running") }]);
    expect(other).toEqual([{ type: "event" }]);
  });
});
