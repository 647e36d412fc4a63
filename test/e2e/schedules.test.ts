// Schedules through the built server: it finds them itself at start, by listing the app's
// installations and their repositories on the fake GitHub and reading each routines.yml; what
// fires is seen where it lands, in the fake model's requests.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUserText } from "../support/fake-model.js";
import { eventually, sleep, type ServerProcess } from "./support/server-process.js";
import { keepDiagnostics, outcome, routinesYml, startWorld, type World } from "./support/world.js";

const REPO = "acme/clock";
const MINUTE = 60_000;
/** Reading the routines.yml, however the client encodes the slash. */
const CONFIG_READ = /^\/repos\/acme\/clock\/contents\/\.claude(\/|%2F)routines\.yml$/;

let world: World;
let server: ServerProcess;
let onceAt: Date;
let startedAt: number;

/** The slot a run was for, from the trigger line of its prompt. */
const triggerOf = (marker: string) =>
  world.model.sessionRequests(marker).map((request) => firstUserText(request.body).match(/Trigger: (a one-off schedule|a schedule), for (\S+)\./)?.slice(1) ?? []);

beforeAll(async () => {
  world = await startWorld();
  world.github.addInstallation(11, "acme");
  // Whole seconds, as people write it; far enough ahead to be in the future when the server reads it.
  onceAt = new Date(Math.ceil((Date.now() + 12_000) / 1000) * 1000);
  await world.github.addRepository(REPO, 11, {
    "README.md": "# clock\n",
    ".claude/routines.yml": routinesYml({
      poll: { prompt: "E2E-POLL: look at the repository.", triggers: [{ schedule: { cron: "* * * * *" } }] },
      migrate: { prompt: "E2E-ONCE: run the migration.", triggers: [{ schedule: { at: onceAt.toISOString().replace(".000Z", "Z") } }] },
    }),
  });
  world.model.session("E2E-POLL", [outcome("Polled.")]);
  world.model.session("E2E-ONCE", [outcome("Migrated.")]);
  startedAt = Date.now();
  server = await world.startServer({ extra: { ROUTINES_MIN_SCHEDULE_INTERVAL: "1m" } });
});

keepDiagnostics(() => ({ world, servers: [server] }));

afterAll(async () => {
  await world?.close();
});

describe("schedules, as deployed", () => {
  it("fires a one-off once, also across a restart, and an every-minute cron at its minute", { timeout: 100_000 }, async () => {
    const { github } = world;

    // Watched side by side, so each is seen when it reaches the model. The cron's slot is the first
    // minute boundary after the server started, or the next one if reading the schedules
    // straddled it (slots before registration are not replayed).
    const firstSlot = Math.ceil(startedAt / MINUTE) * MINUTE;
    const reached = async (marker: string, timeoutMs: number) => {
      await eventually(() => world.model.sessionRequests(marker).length > 0, { timeoutMs, what: `the session ${marker}` });
      return Date.now();
    };
    const [onceSeen, pollSeen] = await Promise.all([reached("E2E-ONCE", 30_000), reached("E2E-POLL", firstSlot + MINUTE - Date.now() + 20_000)]);

    // The one-off, at its time, as a one-off schedule for its minute.
    expect(onceSeen).toBeGreaterThanOrEqual(onceAt.getTime());
    expect(onceSeen - onceAt.getTime()).toBeLessThan(15_000);
    expect(triggerOf("E2E-ONCE")).toEqual([["a one-off schedule", new Date(Math.floor(onceAt.getTime() / MINUTE) * MINUTE).toISOString()]]);

    // The cron, at its minute, as a schedule.
    const [[kind, slot = ""] = []] = triggerOf("E2E-POLL");
    expect(kind).toBe("a schedule");
    expect([firstSlot, firstSlot + MINUTE]).toContain(new Date(slot).getTime());
    expect(pollSeen - new Date(slot).getTime()).toBeLessThan(15_000);

    // Every run that started ends (each revokes its token), and no slot fired twice.
    const sessions = () => world.model.sessionRequests("E2E-ONCE").length + world.model.sessionRequests("E2E-POLL").length;
    await eventually(() => github.find("DELETE", "/installation/token").length >= sessions(), { timeoutMs: 30_000, what: "the runs to finish" });
    const slots = triggerOf("E2E-POLL").map(([, at]) => at);
    expect(new Set(slots).size).toBe(slots.length);

    // A restart well within the grace period reads the schedules again and does not fire the one-off a second time.
    const readsBefore = github.find("GET", CONFIG_READ).length;
    await server.stop();
    await server.restart();
    await eventually(() => github.find("GET", CONFIG_READ).length > readsBefore, { what: "the restarted server to read the schedules" });
    await sleep(2_000);
    expect(world.model.sessionRequests("E2E-ONCE")).toHaveLength(1);
  });
});
