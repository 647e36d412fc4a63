// A run's transcript and status as server-sent events: what was recorded after the client's last
// event first, then each new event and status change as it happens, until the run ends.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RunEvents, RunUpdate } from "../../runs/run-events.js";
import type { RunRecord, RunStore, TranscriptEvent } from "../../runs/store.js";
import type { Html } from "../html.js";
import { isActive } from "./pages/run-words.js";
import { transcriptItem } from "./pages/transcript.js";

const HEARTBEAT_MS = 20_000;

export interface LiveDeps {
  store: RunStore;
  events: RunEvents;
  /** The run's state fragment for this viewer (see pages/run.ts). */
  renderState(run: RunRecord, events: TranscriptEvent[]): Html;
}

export async function streamRun(req: IncomingMessage, res: ServerResponse, run: RunRecord, after: number, deps: LiveDeps): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  const send = (event: string, data: unknown, id?: number) => res.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  let lastSeq = after;
  let closed = false;
  // Updates that arrive while the stored transcript is read wait here, so none is lost or doubled.
  let pending: RunUpdate[] | undefined = [];
  // Updates are handled one after the other: reading the store for one must not let a later one overtake it.
  let handling = Promise.resolve();

  const sendEvent = (event: TranscriptEvent) => {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    send("transcript", { seq: event.seq, html: transcriptItem(event).text }, event.seq);
  };
  /** Sends what the store holds after the last event sent: for a signal without its event, or one that came after a gap. */
  const catchUp = async () => {
    for (const event of await deps.store.listEvents(run.id, lastSeq)) sendEvent(event);
  };
  const close = () => {
    if (closed) return;
    closed = true;
    stop();
    clearInterval(heartbeat);
    res.end();
  };
  const sendStatus = async (current: RunRecord) => {
    send("status", { html: deps.renderState(current, await deps.store.listEvents(current.id)).text });
    if (!isActive(current)) {
      // Events recorded just before the end may not have reached the watcher yet.
      await catchUp();
      send("end", {});
      close();
    }
  };
  const apply = async (update: RunUpdate) => {
    if (closed) return;
    if (update.type === "status") return sendStatus(update.run);
    // Signals from other processes can arrive out of order or not at all: the store fills the gap.
    if (update.event && update.event.seq <= lastSeq + 1) sendEvent(update.event);
    else await catchUp();
  };
  const handle = (update: RunUpdate) => {
    if (closed) return;
    if (pending) pending.push(update);
    else handling = handling.then(() => apply(update)).catch(close);
  };

  const stop = deps.events.watch(run.id, handle);
  const heartbeat = setInterval(() => res.write(": still here\n\n"), HEARTBEAT_MS);
  heartbeat.unref();
  req.on("close", close);

  for (const event of await deps.store.listEvents(run.id, after)) sendEvent(event);
  const queued = pending;
  pending = undefined;
  for (const update of queued) handle(update);
  await handling;
  const current = (await deps.store.getRun(run.id)) ?? run;
  if (!isActive(current) && !closed) await sendStatus(current);
}
