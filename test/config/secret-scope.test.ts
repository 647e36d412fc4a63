import { describe, expect, it } from "vitest";
import { readSecretGrants } from "../../src/config/secret-grants.js";
import { secretScopeProblems, withSecretScope } from "../../src/config/secret-scope.js";
import { validateRoutines } from "../../src/config/validate.js";

const SOURCE = [
  "version: 1",
  "environments:",
  "  default:",
  "    secrets: [SENTRY_TOKEN]",
  "  deploy:",
  "    secrets:",
  "      - SENTRY_TOKEN",
  "      - VAULT_KEY",
  "routines:",
  "  review:",
  "    prompt: Review.",
  "  release:",
  "    prompt: Release.",
  "    environment: deploy",
  "",
].join("\n");

const grants = readSecretGrants({
  ROUTINES_SECRET_SENTRY_TOKEN: "sentry-value",
  ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES: "acme/*",
  ROUTINES_SECRET_VAULT_KEY: "vault-value",
  ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "globex/app",
});

describe("secrets outside a repository's grants", () => {
  it("are errors at the line that names them, saying what the operator can set", () => {
    const config = validateRoutines(SOURCE);
    expect(config.problems).toEqual([]);
    expect(secretScopeProblems(SOURCE, config, grants, { owner: "acme", repo: "app" })).toEqual([
      {
        line: 8,
        col: 9,
        path: ["environments", "deploy", "secrets", 1],
        severity: "error",
        message: expect.stringMatching(/^secret VAULT_KEY is not granted to acme\/app: its operator can add acme\/app to ROUTINES_SECRET_VAULT_KEY_REPOSITORIES/),
      },
    ]);
  });

  it("are none when every secret is granted", () => {
    const config = validateRoutines(SOURCE);
    const everything = readSecretGrants({ ROUTINES_SECRET_SENTRY_TOKEN: "s", ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES: "*", ROUTINES_SECRET_VAULT_KEY: "v", ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "*" });
    expect(withSecretScope(SOURCE, config, everything, { owner: "acme", repo: "app" })).toBe(config);
  });

  it("join the file's own problems in source order", () => {
    const config = validateRoutines(SOURCE);
    const checked = withSecretScope(SOURCE, config, grants, { owner: "globex", repo: "app" });
    expect(checked.problems.map((problem) => [problem.line, problem.message.split(":")[0]])).toEqual([
      [4, "secret SENTRY_TOKEN is not granted to globex/app"],
      [7, "secret SENTRY_TOKEN is not granted to globex/app"],
    ]);
  });
});
