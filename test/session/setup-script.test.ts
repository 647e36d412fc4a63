import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runSetup, SetupError } from "../../src/session/setup-script.js";

async function tree(lockfile = '{"lockfileVersion": 3}') {
  const root = await mkdtemp(join(tmpdir(), "routines-setup-"));
  await writeFile(join(root, "package-lock.json"), lockfile);
  await mkdir(join(root, "src"));
  return root;
}

describe("runSetup", async () => {
  const counter = join(await mkdtemp(join(tmpdir(), "routines-counter-")), "runs");
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", COUNTER: counter };
  const script = 'mkdir -p node_modules/dep && echo built > node_modules/dep/index.js && echo installed && echo run >> "$COUNTER"';
  const runs = async () => (await readFile(counter, "utf8").catch(() => "")).split("\n").filter(Boolean).length;

  it("runs the script once, then restores what it created from the cache", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-setup-cache-"));
    const first = await tree();
    const ran = await runSetup({ script, root: first, env, keyParts: { network: "trusted" }, timeoutMs: 10_000, cacheDir });
    expect(ran).toMatchObject({ cached: false, paths: ["node_modules"], output: "installed" });

    const second = await tree();
    const restored = await runSetup({ script, root: second, env, keyParts: { network: "trusted" }, timeoutMs: 10_000, cacheDir });
    expect(restored).toMatchObject({ cached: true, paths: ["node_modules"] });
    expect(await readFile(join(second, "node_modules/dep/index.js"), "utf8")).toBe("built\n");
    expect(await runs()).toBe(1);

    // Another lockfile, or another environment, is another key: the script runs again.
    await runSetup({ script, root: await tree('{"lockfileVersion": 3, "packages": {}}'), env, keyParts: { network: "trusted" }, timeoutMs: 10_000, cacheDir });
    await runSetup({ script, root: await tree(), env, keyParts: { network: "none" }, timeoutMs: 10_000, cacheDir });
    expect(await runs()).toBe(3);
  });

  it("fails with the script's output, and caches nothing", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "routines-setup-cache-"));
    const failing = 'mkdir -p node_modules; echo "npm ERR! missing package"; exit 7';
    const error = await runSetup({ script: failing, root: await tree(), env, keyParts: {}, timeoutMs: 10_000, cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SetupError);
    expect((error as Error).message).toBe("the setup script failed with exit code 7\nnpm ERR! missing package");
    await expect(runSetup({ script: failing, root: await tree(), env, keyParts: {}, timeoutMs: 10_000, cacheDir })).rejects.toThrow("exit code 7");
  });

  it("stops a script at its time limit", async () => {
    await expect(runSetup({ script: "echo starting; sleep 30", root: await tree(), env, keyParts: {}, timeoutMs: 500 })).rejects.toThrow(
      "the setup script was stopped: it ran longer than 500ms\nstarting",
    );
  });
});
