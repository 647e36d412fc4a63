// A production install has only package.json `dependencies` (`npm ci --omit=dev`, or `npm prune
// --omit=dev` after the build): the built code must not import anything else, installing must
// not need the compiler, and `npm run start:production` runs the built code as it is.
import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { copyFile, mkdtemp, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { envFile, eventually, freePort } from "./e2e/support/server-process.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIST = join(ROOT, "dist");

interface PackageJson {
  dependencies: Record<string, string>;
  engines: { node: string };
  scripts: Record<string, string>;
}
const packageJson = async () => JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as PackageJson;

async function builtFiles(): Promise<string[]> {
  const entries = await readdir(DIST, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith(".js")).map((entry) => join(entry.parentPath, entry.name));
}

const QUOTED = String.raw`(["'])([^"'\n]+)\1`;

/** What a built module imports: statically, through `import()`, and through require functions. */
function importsOf(code: string): { specifiers: string[]; static: string[]; unresolvable: string[] } {
  const all = (pattern: string, group = 2) => [...code.matchAll(new RegExp(pattern, "gm"))].map((match) => match[group]!);
  const statics = [
    ...all(String.raw`^\s*(?:import|export)\b[^;"'\x60]*?\bfrom\s*${QUOTED}`),
    ...all(String.raw`^\s*import\s*${QUOTED}`),
  ];
  // createRequire(...)("x"), createRequire(...).resolve("x"), and the same through a name bound to it.
  const requireNames = ["require", ...all(String.raw`\b(?:const|let|var)\s+([\w$]+)\s*=\s*createRequire\(`, 1)];
  const required = [
    ...all(String.raw`\bcreateRequire\([^()]*\)(?:\.resolve)?\(\s*${QUOTED}`),
    ...requireNames.flatMap((name) => all(String.raw`(?<![\w$.])${name.replace(/\$/g, "\\$")}(?:\.resolve)?\(\s*${QUOTED}`)),
  ];
  // import(new URL("file.js", import.meta.resolve("x")).href): a module beside package x's entry point.
  const besidePackage = String.raw`\bimport\(\s*new URL\(\s*${QUOTED}\s*,\s*import\.meta\.resolve\(\s*(["'])([^"'\n]+)\3\s*\)\s*\)\.href\s*\)`;
  return {
    specifiers: [...statics, ...all(String.raw`\bimport\(\s*${QUOTED}\s*\)`), ...required, ...all(besidePackage, 4)],
    static: statics,
    // import(expression): where it leads cannot be checked here.
    unresolvable: [...code.replace(new RegExp(besidePackage, "g"), "").matchAll(/\bimport\(\s*(?!["'])([^)]{0,60})/g)].map((match) => match[1]!),
  };
}

const isPackage = (specifier: string) => !/^(\.|\/|file:|data:)/.test(specifier) && !isBuiltin(specifier);
const packageOf = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

describe("the built code", () => {
  it("imports only packages in `dependencies` and node builtins", async () => {
    const { dependencies } = await packageJson();
    const files = await builtFiles();
    expect(files.length).toBeGreaterThan(50);
    const missing: string[] = [];
    const unresolvable: string[] = [];
    for (const file of files) {
      const imports = importsOf(await readFile(file, "utf8"));
      for (const specifier of imports.specifiers.filter(isPackage)) {
        if (!(packageOf(specifier) in dependencies)) missing.push(`${relative(ROOT, file)}: ${specifier}`);
      }
      unresolvable.push(...imports.unresolvable.map((expression) => `${relative(ROOT, file)}: import(${expression}`));
    }
    expect(missing, "imported at run time but not in package.json dependencies").toEqual([]);
    expect(unresolvable, "imports whose module this test cannot check").toEqual([]);
  });

  it("finds every kind of import it looks for", () => {
    const code = [
      'import { a } from "static-named";',
      'import b, {\n  c,\n} from "@scope/multi-line/sub";',
      'export * from "re-exported";',
      'import "side-effect";',
      'const d = await import("dynamic");',
      'const e = createRequire(import.meta.url).resolve("required/cli.js");',
      'const req = createRequire(import.meta.url);\nreq("bound");',
      'const text = "import x from \'not-code\'"; path.resolve("data");',
    ].join("\n");
    const imports = importsOf(code);
    expect(imports.specifiers.sort()).toEqual(["@scope/multi-line/sub", "bound", "dynamic", "re-exported", "required/cli.js", "side-effect", "static-named"]);
    expect(imports.specifiers.map(packageOf)).toContain("@scope/multi-line");
    expect(importsOf("const m = await import(pathToFileURL(file).href);").unresolvable).toEqual(["pathToFileURL(file"]);
  });

  it("starts the routines command without loading any package before the command is known", async () => {
    // Commands import their modules when they run, so `routines validate` need not load Probot,
    // the model SDK, git or SQLite: follow the static imports from dist/cli.js.
    const seen = new Set<string>();
    const packages: string[] = [];
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of importsOf(await readFile(file, "utf8")).static) {
        if (specifier.startsWith(".")) await visit(join(dirname(file), specifier));
        else if (isPackage(specifier)) packages.push(`${relative(ROOT, file)}: ${specifier}`);
      }
    };
    await visit(join(DIST, "cli.js"));
    expect(packages).toEqual([]);
  });
});

describe("package.json", () => {
  it("asks for the Node.js that Probot 14 and AbortSignal.any need", async () => {
    expect((await packageJson()).engines.node).toBe(">=20.18.1");
  });

  it("starts the built server in production without building it", async () => {
    const { scripts } = await packageJson();
    expect(scripts["start:production"]).toMatch(/\bnode dist\/server\.js$/);
    expect(scripts["start:production"]).toContain("NODE_ENV=production");
    expect(scripts["start:production"]).not.toMatch(/\btsc\b|npm run build/);
  });

  it("installs without TypeScript: prepare builds only where the compiler is installed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-production-"));
    await copyFile(join(ROOT, "package.json"), join(dir, "package.json"));
    const { stdout } = await promisify(execFile)("npm", ["run", "prepare", "--silent"], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    expect(stdout).toBe("prepare: TypeScript is not installed (a production install), so dist/ is not built\n");
    expect(await readdir(dir)).toEqual(["package.json"]);
  });
});

describe("npm run start:production", () => {
  it("runs the built server, and a SIGTERM to npm reaches it and stops it cleanly", async () => {
    // A directory like a deployment: package.json, the built code and .env; GitHub is a closed
    // port on loopback, so the server's calls to it fail at once and never leave the machine.
    const dir = await mkdtemp(join(tmpdir(), "routines-production-"));
    await copyFile(join(ROOT, "package.json"), join(dir, "package.json"));
    await symlink(DIST, join(dir, "dist"));
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    const [port, github] = [await freePort(), await freePort()];
    await writeFile(
      join(dir, ".env"),
      envFile({ APP_ID: "1", PRIVATE_KEY: privateKey, WEBHOOK_SECRET: "secret", PORT: String(port), DATA_DIR: "state", GHE_HOST: `127.0.0.1:${github}`, GHE_PROTOCOL: "http" }),
    );
    const npm = spawn("npm", ["run", "start:production", "--silent"], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME }, detached: true });
    let output = "";
    npm.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    npm.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = once(npm, "exit");
    const healthy = () => fetch(`http://127.0.0.1:${port}/healthz`).then((answer) => answer.ok, () => false);
    try {
      await eventually(() => npm.exitCode !== null || healthy(), { what: "the server to answer /healthz" }).catch((error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      });
      expect(npm.exitCode, output).toBeNull();
      // Process managers and container runtimes signal only the process they started.
      npm.kill("SIGTERM");
      await exited;
      expect(output).toContain('"msg":"stopped"');
      expect(await healthy()).toBe(false);
    } finally {
      try {
        process.kill(-npm.pid!, "SIGKILL");
      } catch {
        // The group has exited.
      }
    }
  }, 60_000);
});
