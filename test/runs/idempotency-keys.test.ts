import { describe, expect, it } from "vitest";
import { fingerprintOf, hashIdempotencyKey } from "../../src/runs/idempotency-keys.js";

describe("hashIdempotencyKey", () => {
  it("hashes the key with the trigger id, so one key under two triggers is two keys, and the key itself is not kept", () => {
    const hash = hashIdempotencyKey("trg_a", "alert-web-3");
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toBe(hashIdempotencyKey("trg_b", "alert-web-3"));
    // The separator keeps a trigger id and a key from running into each other.
    expect(hashIdempotencyKey("trg_a", "bc")).not.toBe(hashIdempotencyKey("trg_ab", "c"));
  });
});

describe("fingerprintOf", () => {
  it("tells requests apart by what they ask", () => {
    expect(fingerprintOf({ text: "a" })).toBe(fingerprintOf({ text: "a" }));
    expect(fingerprintOf({ text: "a" })).not.toBe(fingerprintOf({ text: "b" }));
    expect(fingerprintOf({ text: null })).not.toBe(fingerprintOf({ text: "" }));
  });
});
