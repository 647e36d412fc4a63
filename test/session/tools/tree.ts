// A working tree for the file tools' tests, beside a directory outside it that holds a secret:
// links planted in the tree point there (and elsewhere) and the tools must not read through them.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tool, ToolResult } from "../../../src/session/define-tool.js";

export interface Tree {
  /** The working tree (a real path). */
  root: string;
  /** A directory beside it, outside. */
  outside: string;
  /** The text of outside/secret.txt and outside/nested/deep.txt: it must never come back. */
  secret: string;
  run(tool: Tool, input: unknown, signal?: AbortSignal): Promise<ToolResult>;
  remove(): Promise<void>;
}

export async function makeTree(): Promise<Tree> {
  const base = await realpath(await mkdtemp(join(tmpdir(), "routines-tree-")));
  const root = join(base, "tree");
  const outside = join(base, "outside");
  const secret = `secret-${randomBytes(12).toString("hex")}`;
  await mkdir(join(root, "src"), { recursive: true });
  await writeFile(join(root, "src/app.ts"), "export function add(a: number, b: number) {\n  return a + b;\n}\n");
  await writeFile(join(root, "README.md"), "# App\n");
  await mkdir(join(outside, "nested"), { recursive: true });
  await writeFile(join(outside, "secret.txt"), `${secret}\n`);
  await writeFile(join(outside, "nested", "deep.txt"), `${secret}\n`);
  return {
    root,
    outside,
    secret,
    run: (tool, input, signal = new AbortController().signal) => tool.run(input, { root, env: {}, signal }),
    remove: () => rm(base, { recursive: true, force: true }),
  };
}

/** Runs `work` while timing the event loop: the longest gap between 20 ms ticks, in ms. */
export async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stall: number }> {
  let last = Date.now();
  let stall = 0;
  const timer = setInterval(() => {
    stall = Math.max(stall, Date.now() - last);
    last = Date.now();
  }, 20);
  try {
    const result = await work();
    stall = Math.max(stall, Date.now() - last);
    return { result, stall };
  } finally {
    clearInterval(timer);
  }
}
