import { mkdir, mkdtemp, readFile, realpath, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_OUTPUT, type Tool } from "../../src/session/define-tool.js";
import { createFile } from "../../src/session/tools/create-file.js";
import { editFile } from "../../src/session/tools/edit-file.js";
import { glob } from "../../src/session/tools/glob.js";
import { grep } from "../../src/session/tools/grep.js";
import { insertLines } from "../../src/session/tools/insert-lines.js";
import { shell } from "../../src/session/tools/shell.js";
import { view } from "../../src/session/tools/view.js";

let root: string;
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", ROUTINE_VAR: "visible" };
const run = (tool: Tool, input: unknown) => tool.run(input, { root, env, signal: new AbortController().signal });

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "routines-tools-")));
  await mkdir(join(root, "src"));
  await writeFile(join(root, "src/app.ts"), "export function add(a: number, b: number) {\n  return a + b;\n}\n");
  await writeFile(join(root, "README.md"), "# App\n");
});

describe("shell", () => {
  it("runs in the working tree with only the environment it is given", async () => {
    process.env.SERVER_ONLY_SECRET = "do-not-leak-me";
    const result = await run(shell, { command: "pwd; env | sort" });
    delete process.env.SERVER_ONLY_SECRET;
    expect(result.isError).toBeUndefined();
    expect(result.output).toContain(`Exit code: 0.\n${root}\n`);
    expect(result.output).toContain("ROUTINE_VAR=visible");
    expect(result.output).not.toContain("do-not-leak-me");
  });

  it("reports a failing command as an error with its exit code", async () => {
    expect(await run(shell, { command: "echo nope >&2; exit 3" })).toEqual({ output: "Exit code: 3.\nnope", isError: true });
  });

  it("stops a command at its timeout, children included", async () => {
    const started = Date.now();
    const result = await run(shell, { command: "sleep 30 & sleep 30; echo never", timeout_seconds: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ output: "Stopped: timed out after 1s.", isError: true });
  });

  it("keeps the first and last parts of long output", async () => {
    const result = await run(shell, { command: "seq 1 20000" });
    expect(result.output.length).toBeLessThanOrEqual(MAX_OUTPUT);
    expect(result.output).toMatch(/^Exit code: 0\.\n1\n2\n3\n/);
    expect(result.output).toMatch(/characters cut …\]/);
    expect(result.output).toMatch(/19999\n20000$/);
  });
});

describe("file tools", () => {
  it("views a file with line numbers, a range of it, and a directory", async () => {
    expect((await run(view, { path: "src/app.ts" })).output).toBe("1\texport function add(a: number, b: number) {\n2\t  return a + b;\n3\t}\n4\t");
    expect((await run(view, { path: "src/app.ts", start_line: 2, end_line: 2 })).output).toBe("2\t  return a + b;\n[lines 3-4 not shown]");
    expect((await run(view, { path: "." })).output).toBe("./\nREADME.md\nsrc/");
  });

  it("creates, edits and inserts", async () => {
    expect((await run(createFile, { path: "docs/guide/intro.md", content: "Hello\nWorld\n" })).output).toBe("Wrote docs/guide/intro.md (3 lines).");
    expect((await run(editFile, { path: "src/app.ts", old_text: "a + b", new_text: "b + a" })).output).toBe("Edited src/app.ts at line 2.");
    expect((await run(insertLines, { path: "src/app.ts", after_line: 0, text: "// Sums.\n" })).output).toBe("Inserted 1 lines into src/app.ts after line 0.");
    expect(await readFile(join(root, "src/app.ts"), "utf8")).toBe("// Sums.\nexport function add(a: number, b: number) {\n  return b + a;\n}\n");
  });

  it("refuses an edit that is missing or ambiguous", async () => {
    expect(await run(editFile, { path: "src/app.ts", old_text: "a - b", new_text: "" })).toEqual({
      output: "edit_file failed: old_text does not occur in src/app.ts; view the file and copy the text exactly",
      isError: true,
    });
    expect((await run(editFile, { path: "src/app.ts", old_text: "number", new_text: "bigint" })).output).toBe(
      "edit_file failed: old_text occurs more than once in src/app.ts; include more surrounding lines",
    );
  });

  it.each([["../outside.txt"], ["/etc/passwd"], ["/proc/self/environ"], ["src/../../x"]])("refuses %s, outside the working tree", async (path) => {
    for (const tool of [view, createFile]) {
      const result = await run(tool, { path, content: "x" });
      expect(result).toEqual({ output: `${tool.name} failed: ${path} is outside the working tree`, isError: true });
    }
  });

  it("refuses a symlink that leads out of the working tree", async () => {
    await symlink("/etc", join(root, "etc-link"));
    expect((await run(view, { path: "etc-link/passwd" })).output).toBe("view failed: etc-link/passwd leads outside the working tree");
    expect((await run(createFile, { path: "etc-link/evil", content: "x" })).output).toBe("create_file failed: etc-link/evil leads outside the working tree");
  });
});

describe("search tools", () => {
  it("finds files by glob and lines by regular expression", async () => {
    await mkdir(join(root, "node_modules/dep"), { recursive: true });
    await writeFile(join(root, "node_modules/dep/index.js"), "return a + b;\n");
    expect((await run(glob, { pattern: "**/*.ts" })).output).toBe("src/app.ts");
    expect((await run(grep, { pattern: "return\\s+a" })).output).toBe("src/app.ts:2:   return a + b;");
    expect((await run(grep, { pattern: "APP", ignore_case: true, include: "*.md" })).output).toBe("README.md:1: # App");
    expect((await run(grep, { pattern: "(" })).output).toMatch(/^grep failed: invalid regular expression: /);
  });
});
