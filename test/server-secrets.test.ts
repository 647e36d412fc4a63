import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { heldSecrets, isSecretVariable, referencedVariables, scrubEnvironment } from "../src/server-secrets.js";

const pem = generateKeyPairSync("rsa", { modulusLength: 1024, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
const bodyLines = pem.split("\n").filter((line) => line && !line.startsWith("-----"));

describe("the server's secrets", () => {
  it("are every key, secret and granted value it holds, in the forms it holds them", () => {
    const held = heldSecrets(
      {
        PRIVATE_KEY: pem.replace(/\n/g, "\\n"),
        WEBHOOK_SECRET: "webhook-secret",
        GITHUB_CLIENT_SECRET: "client-secret",
        ANTHROPIC_API_KEY: "model-key",
        ROUTINES_SECRET_VAULT_KEY: "vault-value",
        ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme/app",
        APP_ID: "42",
        PATH: "/usr/bin",
      },
      { sessionSecret: "session-secret" },
    );
    expect(held).toEqual(expect.arrayContaining(["webhook-secret", "client-secret", "model-key", "vault-value", "session-secret", pem.replace(/\n/g, "\\n"), pem, ...bodyLines]));
    expect(held).not.toContain("acme/app");
    expect(held).not.toContain("42");
  });

  it("include DATABASE_URL and its password (decoded), which leave the environment with the rest", () => {
    const url = "postgres://routines:p%40ss-w0rd-4a1b@db.internal:5432/routines";
    const env: NodeJS.ProcessEnv = { DATABASE_URL: url, PATH: "/usr/bin" };
    expect(heldSecrets(env)).toEqual(expect.arrayContaining([url, "p@ss-w0rd-4a1b", "p%40ss-w0rd-4a1b"]));
    expect(heldSecrets({ DATABASE_URL: "postgres://db.internal/routines" })).toEqual(["postgres://db.internal/routines"]);
    expect(scrubEnvironment(env)).toEqual(["DATABASE_URL"]);
    expect(env).toEqual({ PATH: "/usr/bin" });
  });

  it("include the private key given in base64, or in its file", async () => {
    expect(heldSecrets({ PRIVATE_KEY: Buffer.from(pem).toString("base64") })).toEqual(expect.arrayContaining([pem, ...bodyLines]));
    const dir = await mkdtemp(join(tmpdir(), "routines-key-"));
    await writeFile(join(dir, "app.private-key.pem"), pem);
    expect(heldSecrets({}, { cwd: dir })).toEqual(expect.arrayContaining([pem, ...bodyLines]));
    expect(heldSecrets({ PRIVATE_KEY_PATH: "app.private-key.pem" }, { cwd: dir })).toEqual(expect.arrayContaining([pem]));
  });

  it("are named by their variables", () => {
    expect(["PRIVATE_KEY", "WEBHOOK_SECRET", "GITHUB_CLIENT_SECRET", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ROUTINES_SESSION_SECRET", "ROUTINES_SECRET_X"].every(isSecretVariable)).toBe(true);
    expect(["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "GOOGLE_OAUTH_ACCESS_TOKEN"].every(isSecretVariable)).toBe(true);
    expect(["APP_ID", "PRIVATE_KEY_PATH", "ANTHROPIC_BASE_URL", "PATH", "AWS_ACCESS_KEY_ID", "AWS_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUD_ML_REGION"].some(isSecretVariable)).toBe(false);
  });

  it("include the secret fields of the Google credentials file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routines-adc-"));
    await writeFile(join(dir, "service-account.json"), JSON.stringify({ type: "service_account", private_key_id: "key-id-0123456789", private_key: pem, client_email: "a@b.iam.gserviceaccount.com" }));
    await writeFile(join(dir, "user.json"), JSON.stringify({ type: "authorized_user", client_id: "client-id", client_secret: "user-client-secret", refresh_token: "user-refresh-token" }));
    const serviceAccount = heldSecrets({ GOOGLE_APPLICATION_CREDENTIALS: "service-account.json" }, { cwd: dir });
    expect(serviceAccount).toEqual(expect.arrayContaining([pem, ...bodyLines, "key-id-0123456789"]));
    expect(serviceAccount).not.toContain("a@b.iam.gserviceaccount.com");
    expect(heldSecrets({ GOOGLE_APPLICATION_CREDENTIALS: join(dir, "user.json") })).toEqual(expect.arrayContaining(["user-client-secret", "user-refresh-token"]));
    expect(heldSecrets({ GOOGLE_APPLICATION_CREDENTIALS: join(dir, "missing.json") })).toEqual([]);
  });

  it("leave an environment when scrubbed, with the variables the operator's connectors read", () => {
    const env: NodeJS.ProcessEnv = { WEBHOOK_SECRET: "w", ROUTINES_SECRET_A: "a", APP_ID: "42", SENTRY_AUTH: "sentry-credential" };
    const variables = referencedVariables('{"mcpServers":{"sentry":{"type":"http","url":"https://mcp.sentry.dev","headers":{"Authorization":"Bearer ${SENTRY_AUTH}"}}}}');
    expect(variables).toEqual(["SENTRY_AUTH"]);
    expect(heldSecrets(env, { also: variables })).toContain("sentry-credential");
    expect(scrubEnvironment(env, variables).sort()).toEqual(["ROUTINES_SECRET_A", "SENTRY_AUTH", "WEBHOOK_SECRET"]);
    expect(env).toEqual({ APP_ID: "42" });
  });

  it("leave the process: its children do not inherit them, and /proc/<pid>/environ no longer shows them", () => {
    const module = fileURLToPath(new URL("../dist/server-secrets.js", import.meta.url));
    const script = `
      import { readFileSync } from "node:fs";
      import { execFileSync } from "node:child_process";
      const { scrubEnvironment } = await import(${JSON.stringify(module)});
      scrubEnvironment();
      const own = readFileSync("/proc/self/environ", "utf8");
      const child = execFileSync("sh", ["-c", "env"]).toString();
      const fromOutside = execFileSync("cat", ["/proc/" + process.pid + "/environ"]).toString();
      console.log(JSON.stringify({ own, child, fromOutside, kept: process.env.KEEP_ME }));
    `;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ANTHROPIC_API_KEY: "model-key-in-the-environment", ROUTINES_SECRET_VAULT_KEY: "vault-in-the-environment", KEEP_ME: "kept" },
    });
    expect(result.stderr.toString()).toBe("");
    const seen = JSON.parse(result.stdout.toString()) as Record<string, string>;
    for (const where of ["own", "child", "fromOutside"]) {
      expect(seen[where]).not.toContain("in-the-environment");
      expect(seen[where]).toContain("KEEP_ME=kept");
    }
    expect(seen.kept).toBe("kept");
  });
});
