// The grep tool against ripgrep itself on the same tree, in the same run, each the median of three:
// a generated working tree of thousands of source files (tens of MB) with a .gitignore'd build
// directory, searched for a word that occurs in a few hundred lines and for one that occurs
// nowhere. The tool's extra is its own work: the confined start, the sorting, the result's text.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { grep } from "../src/session/tools/grep.js";

const FILES = Number(process.env.BENCH_FILES ?? 4000);
const ROUNDS = 3;

const root = await realpath(await mkdtemp(join(tmpdir(), "routines-bench-grep-")));
const bytes = await generateTree(root, FILES);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const time = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};

const rows: Array<{ pattern: string; tool: number; rg: number; lines: number }> = [];
for (const pattern of ["needle_[0-9]+", "never_there_[0-9]{9}"]) {
  const tool: number[] = [];
  const native: number[] = [];
  let lines = 0;
  for (let round = 0; round < ROUNDS; round++) {
    native.push(
      await time(async () => {
        const { stdout } = await promisify(execFile)("rg", ["--no-config", "--line-number", "--hidden", "--glob=!.git", "--glob=!node_modules", "--regexp", pattern, "--", "."], { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch(
          (error: { code?: number; stdout?: string }) => {
            if (error.code === 1) return { stdout: "" };
            throw error;
          },
        );
        lines = stdout === "" ? 0 : stdout.trimEnd().split("\n").length;
      }),
    );
    tool.push(
      await time(async () => {
        const result = await grep.run({ pattern }, { root, env: {}, signal: new AbortController().signal });
        if (result.isError) throw new Error(result.output);
      }),
    );
  }
  rows.push({ pattern, tool: median(tool), rg: median(native), lines });
}
await rm(root, { recursive: true, force: true });

console.log(`bench/grep: ${FILES} files (${(bytes / 1e6).toFixed(0)} MB) and a .gitignore'd build directory, median of ${ROUNDS}`);
for (const { pattern, tool, rg, lines } of rows) {
  console.log(`  /${pattern}/ (${lines} matching lines): grep tool ${tool.toFixed(0)} ms, rg ${rg.toFixed(0)} ms, ratio ${(tool / rg).toFixed(2)}x`);
}

/** A tree of `files` generated source files, a build directory .gitignore names, and a .git; returns the bytes of source. */
async function generateTree(dir: string, files: number): Promise<number> {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const words = Array.from({ length: 2000 }, () => Math.floor(random() * 1e9).toString(36));
  const word = () => words[Math.floor(random() * words.length)]!;
  let total = 0;
  for (let file = 0; file < files; file++) {
    const lines = Array.from({ length: 40 + Math.floor(random() * 300) }, (_, line) => `  const ${random() < 0.001 ? `needle_${line}` : word()}_${line} = ${JSON.stringify(word())}; // ${word()}`);
    const text = `// file ${file}\nexport function f${file}() {\n${lines.join("\n")}\n}\n`;
    const path = join(dir, "src", `pkg-${file % 40}`, `mod-${Math.floor(file / 40) % 25}`);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, `file-${file}.ts`), text);
    total += text.length;
  }
  await mkdir(join(dir, "dist"), { recursive: true });
  for (let file = 0; file < 200; file++) await writeFile(join(dir, "dist", `bundle-${file}.js`), `const needle_${file} = 1;\n`.repeat(50));
  await writeFile(join(dir, ".gitignore"), "dist/\n");
  await promisify(execFile)("git", ["init", "-q"], { cwd: dir });
  return total;
}
