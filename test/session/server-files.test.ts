import { mkdir, mkdtemp, realpath, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serverFiles } from "../../src/session/server-files.js";

describe("the server's own files", () => {
  it("are named absolutely, wherever the server found them, and as the links' targets too", async () => {
    const cwd = await realpath(await mkdtemp(join(tmpdir(), "routines-server-cwd-")));
    const keys = await realpath(await mkdtemp(join(tmpdir(), "routines-server-keys-")));
    await writeFile(join(cwd, ".env"), "APP_ID=1\n");
    // Probot takes the one *.pem in its working directory when no key is configured.
    await writeFile(join(cwd, "app.2024-01-01.private-key.pem"), "key");
    await writeFile(join(keys, "real.pem"), "key");
    await symlink(join(keys, "real.pem"), join(cwd, "linked.pem"));
    await mkdir(join(cwd, "config"));
    await writeFile(join(cwd, "config", "connectors.json"), "{}");

    const files = await serverFiles({ cwd, dataDir: "data", privateKeyPath: "linked.pem", connectorsFile: "config/connectors.json", homes: ["/home/routines", "/"] });
    expect(files).toEqual([
      cwd,
      join(cwd, ".env"),
      join(cwd, "app.2024-01-01.private-key.pem"),
      join(cwd, "linked.pem"),
      join(cwd, "data"),
      join(cwd, "config", "connectors.json"),
      "/home/routines",
      join(keys, "real.pem"),
    ]);
  });

  it("take an absolute key path as it is", async () => {
    const cwd = await realpath(await mkdtemp(join(tmpdir(), "routines-server-cwd-")));
    expect(await serverFiles({ cwd, dataDir: "/var/lib/routines", privateKeyPath: "/etc/routines/key.pem", homes: [] })).toEqual([cwd, "/var/lib/routines", "/etc/routines/key.pem"]);
  });

  it("include the files of the model route's credentials", async () => {
    const cwd = await realpath(await mkdtemp(join(tmpdir(), "routines-server-cwd-")));
    expect(await serverFiles({ cwd, dataDir: "/var/lib/routines", credentialFiles: ["/etc/gcp/service-account.json", "aws/credentials"], homes: [] })).toEqual([
      cwd,
      "/var/lib/routines",
      "/etc/gcp/service-account.json",
      join(cwd, "aws", "credentials"),
    ]);
  });
});
