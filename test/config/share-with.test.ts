import { describe, expect, it } from "vitest";
import { notSharedMessage, sharedAccess, shareGrants } from "../../src/config/share-with.js";

const app = { owner: "Acme", repo: "App" };

describe("shareGrants", () => {
  it("reads plain entries as read-only and keeps the access of the others, lower-cased", () => {
    expect(shareGrants(["Acme/App", "acme/*", { repository: "acme/site", access: "write" }, { repository: "acme/docs" }])).toEqual([
      { repository: "acme/app", access: "read" },
      { repository: "acme/*", access: "read" },
      { repository: "acme/site", access: "write" },
      { repository: "acme/docs", access: "read" },
    ]);
  });
});

describe("sharedAccess", () => {
  it("gives nothing to a repository no entry names", () => {
    expect(sharedAccess([], app)).toBeUndefined();
    expect(sharedAccess(shareGrants(["acme/site", "other/*", "acme/app-tools"]), app)).toBeUndefined();
  });

  it("matches the name or the owner's wildcard, whatever the case", () => {
    expect(sharedAccess(shareGrants(["ACME/app"]), app)).toBe("read");
    expect(sharedAccess(shareGrants(["acme/*"]), app)).toBe("read");
    expect(sharedAccess(shareGrants([{ repository: "acme/*", access: "write" }]), app)).toBe("write");
  });

  it("gives the strongest access of the entries that match", () => {
    expect(sharedAccess(shareGrants(["acme/app", { repository: "acme/*", access: "write" }]), app)).toBe("write");
    expect(sharedAccess(shareGrants([{ repository: "acme/app", access: "write" }, "acme/*"]), app)).toBe("write");
  });
});

describe("notSharedMessage", () => {
  it("tells both sides what to write", () => {
    expect(notSharedMessage({ owner: "acme", repo: "secret" }, app)).toBe(
      'acme/secret does not share itself with Acme/App: for Acme/App\'s routines to check it out, acme/secret\'s .claude/routines.yml on its default branch needs "share_with: [Acme/App]" (read-only), or "share_with: [{ repository: Acme/App, access: write }]" to let them push claude/ branches there; otherwise remove acme/secret from the routine\'s repositories',
    );
  });
});
