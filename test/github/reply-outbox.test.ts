import { afterEach, expect, it } from "vitest";
import { replyMarker, ReplyOutbox, type RepliesApi } from "../../src/github/reply-outbox.js";
import type { PendingReply, ReplyEntry, RunStore } from "../../src/runs/store.js";
import { describeEachStore } from "../support/stores.js";

const reply = (key: string, body: string, issueNumber = 1): ReplyEntry => ({
  key,
  installationId: 1,
  repository: { owner: "acme", repo: "app" },
  issueNumber,
  write: { kind: "comment", body },
});
const eyes = (key: string, commentId: number, issueNumber = 1): ReplyEntry => ({
  key,
  installationId: 1,
  repository: { owner: "acme", repo: "app" },
  issueNumber,
  write: { kind: "reaction", commentId, content: "eyes" },
});

/** GitHub's comments and reactions as the outbox sees them; answers controllable. */
class FakeReplies implements RepliesApi {
  readonly comments: Array<{ issue: number; body: string }> = [];
  readonly reactions: number[] = [];
  /** Errors to throw, one per coming write; `applied` ones after the write took effect (a lost answer). */
  readonly failures: Array<{ error: unknown; applied?: boolean }> = [];
  /** Writes to issue `n` wait for `holds.get(n)`. */
  readonly holds = new Map<number, Promise<void>>();

  async react(reply: PendingReply & { write: { kind: "reaction" } }): Promise<void> {
    await this.#answer(reply.issueNumber, () => this.reactions.push(reply.write.commentId));
  }

  async hasReaction(reply: PendingReply & { write: { kind: "reaction" } }): Promise<boolean> {
    return this.reactions.includes(reply.write.commentId);
  }

  async comment(reply: PendingReply, body: string): Promise<void> {
    await this.#answer(reply.issueNumber, () => this.comments.push({ issue: reply.issueNumber, body }));
  }

  async hasComment(reply: PendingReply, marker: string): Promise<boolean> {
    return this.comments.some((comment) => comment.issue === reply.issueNumber && comment.body.includes(marker));
  }

  async #answer(issue: number, apply: () => void): Promise<void> {
    await this.holds.get(issue);
    const failure = this.failures.shift();
    if (!failure || failure.applied) apply();
    if (failure) throw failure.error;
  }
}

const outboxes: ReplyOutbox[] = [];
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
});

function start(store: RunStore, api: RepliesApi, errors: unknown[] = []) {
  const outbox = new ReplyOutbox(store, api, { pollMs: 20, backoffMs: () => 30, onError: (error) => errors.push(error) });
  outboxes.push(outbox);
  outbox.start();
  return outbox;
}

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });
const textOf = (body: string) => body.split("\n\n<!--")[0];

describeEachStore("the reply outbox in the store", ({ fresh, freshPlace }) => {
  it("records a key once, however often it is recorded", async () => {
    const store = await fresh();
    expect(await store.recordReply(reply("d1:reply", "first"), new Date())).toBe(true);
    expect(await store.recordReply(reply("d1:reply", "second"), new Date())).toBe(false);
    const pending = await store.pendingReplies(new Date(), 10);
    expect(pending).toEqual([{ ...reply("d1:reply", "first"), creating: false, attempts: 0 }]);
  });

  it("hands out one reply per issue, the oldest, and holds the ones behind a failed one until its retry is due", async () => {
    const store = await fresh();
    await store.recordReply(eyes("d1:reaction", 11), new Date());
    await store.recordReply(reply("d1:reply", "on one"), new Date());
    await store.recordReply(reply("d2:reply", "on two", 2), new Date());
    const keys = async (at = new Date()) => (await store.pendingReplies(at, 10)).map((pending) => pending.key);
    expect(await keys()).toEqual(["d1:reaction", "d2:reply"]);

    await store.markReplyFailed("d1:reaction", new Date(Date.now() + 60_000));
    expect(await keys()).toEqual(["d2:reply"]);
    expect(await keys(new Date(Date.now() + 61_000))).toEqual(["d1:reaction", "d2:reply"]);
    expect((await store.pendingReplies(new Date(Date.now() + 61_000), 1))[0]).toMatchObject({ attempts: 1 });

    await store.markReplyCreating("d2:reply");
    expect((await store.pendingReplies(new Date(), 10))[0]).toMatchObject({ key: "d2:reply", creating: true });
    await store.markReplyDone("d2:reply", new Date(), "sent");
    await store.markReplyDone("d1:reaction", new Date(), "abandoned");
    expect(await keys(new Date(Date.now() + 61_000))).toEqual(["d1:reply"]);
    // A key done is still known: its delivery handled again records nothing.
    expect(await store.recordReply(reply("d2:reply", "again", 2), new Date())).toBe(false);
  });

  it("forgets replies done before a time, never pending ones", async () => {
    const store = await fresh();
    await store.recordReply(reply("old:reply", "old"), new Date(0));
    await store.recordReply(reply("new:reply", "new", 2), new Date(0));
    await store.markReplyDone("old:reply", new Date(1_000), "sent");
    expect(await store.pruneReplies(new Date(2_000))).toBe(1);
    expect((await store.pendingReplies(new Date(), 10)).map((pending) => pending.key)).toEqual(["new:reply"]);
    expect(await store.recordReply(reply("old:reply", "old"), new Date())).toBe(true);
  });
});

describeEachStore("the reply outbox", ({ fresh, freshPlace }) => {
  it("sends the reaction, then the reply, each once, the reply with its hidden marker", async () => {
    const store = await fresh();
    const api = new FakeReplies();
    const outbox = start(store, api);
    await store.recordReply(eyes("d1:reaction", 11), new Date());
    await store.recordReply(reply("d1:reply", "Started `review`."), new Date());
    await store.recordReply(reply("d1:reply", "Started `review`."), new Date());
    outbox.wake();
    await outbox.idle();
    expect(api.reactions).toEqual([11]);
    expect(api.comments).toEqual([{ issue: 1, body: `Started \`review\`.\n\n${replyMarker("d1:reply")}` }]);
    expect(replyMarker("d1:reply")).toMatch(/^<!-- routines:reply:[0-9a-f]{24} -->$/);
    expect(await store.pendingReplies(new Date(Date.now() + 60_000), 10)).toEqual([]);
  });

  it("sends a reply once when the store's answers take a while, as a database's over a network do", async () => {
    const store = await fresh();
    // What claimReplies read comes back 50 ms later: the reply may have been sent since.
    const slow = new Proxy(store, {
      get(target, property) {
        if (property === "claimReplies") {
          return async (...args: Parameters<RunStore["claimReplies"]>) => {
            const rows = await target.claimReplies(...args);
            await new Promise((resolve) => setTimeout(resolve, 50));
            return rows;
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const api = new FakeReplies();
    const outbox = start(slow, api);
    const texts = Array.from({ length: 8 }, (_, i) => `one ${i + 1}`);
    for (const [i, text] of texts.entries()) await store.recordReply(reply(`d${i + 1}:reply`, text), new Date());
    outbox.wake();
    await eventually(async () => (await store.pendingReplies(new Date(Date.now() + 60_000), 10)).length === 0, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(api.comments.map((comment) => textOf(comment.body))).toEqual(texts);
  });

  it("keeps the order on an issue while another issue goes ahead", async () => {
    const store = await fresh();
    const api = new FakeReplies();
    let release!: () => void;
    api.holds.set(1, new Promise((resolve) => (release = resolve)));
    const outbox = start(store, api);
    for (let i = 1; i <= 3; i++) await store.recordReply(reply(`d${i}:reply`, `one ${i}`), new Date());
    await store.recordReply(reply("d4:reply", "two", 2), new Date());
    outbox.wake();
    await eventually(() => api.comments.length === 1);
    expect(textOf(api.comments[0]!.body)).toBe("two");
    release();
    await outbox.idle();
    expect(api.comments.map((comment) => textOf(comment.body))).toEqual(["two", "one 1", "one 2", "one 3"]);
  });

  it("tries again after a 502, a rate limit or a network failure, and gives up on a refusal without holding up the next", async () => {
    const store = await fresh();
    const api = new FakeReplies();
    const errors: unknown[] = [];
    api.failures.push({ error: httpError(502) }, { error: httpError(429) }, { error: new TypeError("fetch failed") });
    const outbox = start(store, api, errors);
    await store.recordReply(eyes("d1:reaction", 11), new Date());
    await store.recordReply(reply("d1:reply", "Started."), new Date());
    outbox.wake();
    await eventually(() => api.comments.length === 1);
    expect(errors).toHaveLength(3);
    expect(api.reactions).toEqual([11]);

    api.failures.push({ error: httpError(422) });
    await store.recordReply(reply("d2:reply", "refused"), new Date());
    await store.recordReply(reply("d3:reply", "next"), new Date());
    outbox.wake();
    await eventually(() => api.comments.length === 2);
    await outbox.idle();
    expect(errors).toHaveLength(4);
    expect(api.comments.map((comment) => textOf(comment.body))).toEqual(["Started.", "next"]);
  });

  it("does not post a reaction or reply again when GitHub made it but answered 502", async () => {
    const store = await fresh();
    const api = new FakeReplies();
    api.failures.push({ error: httpError(502), applied: true }, { error: httpError(502), applied: true });
    const outbox = start(store, api);
    await store.recordReply(eyes("d1:reaction", 11), new Date());
    await store.recordReply(reply("d1:reply", "Started."), new Date());
    outbox.wake();
    // Sent once the retries found what the failed creations made.
    await eventually(async () => (await store.pendingReplies(new Date(Date.now() + 60_000), 10)).length === 0);
    expect(api.reactions).toEqual([11]);
    expect(api.comments).toEqual([{ issue: 1, body: `Started.\n\n${replyMarker("d1:reply")}` }]);
  });

  it("sends after a restart what the last process left, without posting a reply a second time", async () => {
    const open = await freshPlace();
    const api = new FakeReplies();
    let store = await open();
    // The last process sent a creation and died before recording its answer.
    await store.recordReply(reply("d1:reply", "Started."), new Date());
    await store.markReplyCreating("d1:reply");
    await api.comment((await store.pendingReplies(new Date(), 1))[0]!, `Started.\n\n${replyMarker("d1:reply")}`);
    await store.recordReply(eyes("d2:reaction", 12, 2), new Date());
    await store.recordReply(reply("d2:reply", "Not started.", 2), new Date());
    await store.close();

    store = await open();
    // The same deliveries handled again after the restart record nothing new.
    expect(await store.recordReply(reply("d2:reply", "Not started.", 2), new Date())).toBe(false);
    await start(store, api).idle();
    expect(api.comments.map((comment) => [comment.issue, textOf(comment.body)])).toEqual([
      [1, "Started."],
      [2, "Not started."],
    ]);
    expect(api.reactions).toEqual([12]);
  });

  it("posts each reply once, in order on its issue, when two processes share the outbox", async () => {
    const open = await freshPlace();
    const [first, second] = [await open(), await open()];
    const api = new FakeReplies();
    // GitHub takes a moment to answer: time for the other process to look at the same replies.
    for (const issue of [1, 2, 3, 4]) api.holds.set(issue, new Promise((resolve) => setTimeout(resolve, 50)));
    const texts = Array.from({ length: 24 }, (_, i) => ({ key: `d${i}:reply`, text: `reply ${i}`, issue: (i % 4) + 1 }));
    for (const { key, text, issue } of texts) await first.recordReply(reply(key, text, issue), new Date());
    start(first, api);
    start(second, api);
    await eventually(async () => (await first.pendingReplies(new Date(Date.now() + 60_000), 10)).length === 0, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const issue of [1, 2, 3, 4]) {
      const posted = api.comments.filter((comment) => comment.issue === issue).map((comment) => textOf(comment.body));
      expect(posted).toEqual(texts.filter((item) => item.issue === issue).map((item) => item.text));
    }
  });

  it("posts what a process that died while sending held once its claim expires, and not a second time", async () => {
    const store = await fresh();
    const api = new FakeReplies();
    await store.recordReply(reply("d1:reply", "Started."), new Date());
    // The dead process claimed the reply, posted it, and died before recording that it had.
    const expiresAt = new Date(Date.now() + 800);
    const [held] = await store.claimReplies(new Date(), 1, { owner: "a process that died", expiresAt });
    await store.markReplyCreating("d1:reply");
    await api.comment(held!, `Started.\n\n${replyMarker("d1:reply")}`);
    await store.recordReply(reply("d2:reply", "Next."), new Date());
    start(store, api);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.comments).toHaveLength(1);
    await eventually(() => api.comments.length === 2, 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(api.comments.map((comment) => textOf(comment.body))).toEqual(["Started.", "Next."]);
  });
});

async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
