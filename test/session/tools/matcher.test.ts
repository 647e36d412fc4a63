import { describe, expect, it } from "vitest";
import { ToolError } from "../../../src/session/define-tool.js";
import { Matcher, MatchStopped } from "../../../src/session/tools/matcher.js";

const never = () => new AbortController().signal;

describe("Matcher", () => {
  it("selects paths by glob, and stops when its signal fires", async () => {
    const glob = new Matcher({ glob: "src/**/*.ts" }, never());
    try {
      expect(await glob.select(["src/a.ts", "src/deep/.b.ts", "README.md", "src/a.js"])).toEqual([true, true, false, false]);
    } finally {
      await glob.close();
    }
    // Once its signal fires it is stopped, and stays so.
    const controller = new AbortController();
    const stopped = new Matcher({ glob: "*.ts" }, controller.signal);
    controller.abort();
    await expect(stopped.select(["a.ts"])).rejects.toBeInstanceOf(MatchStopped);
    await expect(stopped.select(["a"])).rejects.toBeInstanceOf(MatchStopped);
    await stopped.close();
  });

  it("answers with a tool error, not a crash, when the worker fails", async () => {
    const matcher = new Matcher({ glob: "x".repeat(100_000) }, never());
    const error = await matcher.select(["a"]).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as Error).message).toMatch(/^the pattern failed: .*too long/);
    await matcher.close();
  });
});
