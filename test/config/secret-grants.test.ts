import { describe, expect, it } from "vitest";
import { readSecretGrants, SecretGrantError } from "../../src/config/secret-grants.js";

const acmeApp = { owner: "acme", repo: "app" };
const acmeSite = { owner: "Acme", repo: "Site" };
const globexApp = { owner: "globex", repo: "app" };

describe("secret grants", () => {
  it("grant a value to the repositories listed, and to no other", () => {
    const grants = readSecretGrants({ ROUTINES_SECRET_VAULT_KEY: "acme-value", ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "acme/app" });
    expect(grants.resolve(["VAULT_KEY"], acmeApp)).toEqual({ VAULT_KEY: "acme-value" });
    expect(grants.grantFor("VAULT_KEY", acmeSite)).toBeUndefined();
    expect(grants.grantFor("VAULT_KEY", globexApp)).toBeUndefined();
    expect(() => grants.resolve(["VAULT_KEY"], globexApp)).toThrow(SecretGrantError);
  });

  it("grant nothing by default: a value without _REPOSITORIES is available to no repository", () => {
    const grants = readSecretGrants({ ROUTINES_SECRET_VAULT_KEY: "value" });
    expect(grants.grantFor("VAULT_KEY", acmeApp)).toBeUndefined();
    expect(grants.ungranted().map((grant) => grant.variable)).toEqual(["ROUTINES_SECRET_VAULT_KEY"]);
    expect(grants.values()).toEqual(["value"]);
  });

  it("match owner/*, * and names in any case, lists separated by commas or spaces", () => {
    const grants = readSecretGrants({
      ROUTINES_SECRET_A: "a",
      ROUTINES_SECRET_A_REPOSITORIES: "ACME/*",
      ROUTINES_SECRET_B: "b",
      ROUTINES_SECRET_B_REPOSITORIES: "*",
      ROUTINES_SECRET_C: "c",
      ROUTINES_SECRET_C_REPOSITORIES: "globex/app, acme/site\nacme/other",
    });
    expect(grants.resolve(["A", "B", "C"], acmeSite)).toEqual({ A: "a", B: "b", C: "c" });
    expect(grants.problem(["A"], globexApp)).toMatch(/^secret A is not granted to globex\/app/);
    expect(grants.resolve(["B", "C"], globexApp)).toEqual({ B: "b", C: "c" });
  });

  it("give each repository its own value of a name, the most specific grant first", () => {
    const grants = readSecretGrants({
      ROUTINES_SECRET_NPM_TOKEN: "shared",
      ROUTINES_SECRET_NPM_TOKEN_REPOSITORIES: "*",
      ROUTINES_SECRET_NPM_TOKEN__ACME: "acme-org",
      ROUTINES_SECRET_NPM_TOKEN__ACME_REPOSITORIES: "acme/*",
      ROUTINES_SECRET_NPM_TOKEN__SITE: "acme-site",
      ROUTINES_SECRET_NPM_TOKEN__SITE_REPOSITORIES: "acme/site",
    });
    expect(grants.resolve(["NPM_TOKEN"], acmeSite)).toEqual({ NPM_TOKEN: "acme-site" });
    expect(grants.resolve(["NPM_TOKEN"], acmeApp)).toEqual({ NPM_TOKEN: "acme-org" });
    expect(grants.resolve(["NPM_TOKEN"], globexApp)).toEqual({ NPM_TOKEN: "shared" });
  });

  it("say what the operator can set, for a name without a value and for one granted elsewhere", () => {
    const grants = readSecretGrants({ ROUTINES_SECRET_VAULT_KEY: "v", ROUTINES_SECRET_VAULT_KEY_REPOSITORIES: "globex/*" });
    expect(grants.problem(["SENTRY_TOKEN"], acmeApp)).toBe(
      "the server has no value for secret SENTRY_TOKEN: its operator can set ROUTINES_SECRET_SENTRY_TOKEN=<value> and ROUTINES_SECRET_SENTRY_TOKEN_REPOSITORIES=acme/app",
    );
    expect(grants.problem(["VAULT_KEY"], acmeApp)).toBe(
      "secret VAULT_KEY is not granted to acme/app: its operator can add acme/app to ROUTINES_SECRET_VAULT_KEY_REPOSITORIES (to share the value of ROUTINES_SECRET_VAULT_KEY), or set ROUTINES_SECRET_VAULT_KEY__<LABEL>=<value> and ROUTINES_SECRET_VAULT_KEY__<LABEL>_REPOSITORIES=acme/app (for a value of its own)",
    );
    expect(grants.problem(["SENTRY_TOKEN", "VAULT_KEY"], acmeApp)?.split("; ")).toHaveLength(2);
    expect(grants.problem([], acmeApp)).toBeUndefined();
  });

  it.each([
    [{ ROUTINES_SECRET_A_REPOSITORIES: "acme/app" }, "ROUTINES_SECRET_A_REPOSITORIES is set, but ROUTINES_SECRET_A is not: set the secret's value too, or remove the grant"],
    [{ ROUTINES_SECRET_A: "a", ROUTINES_SECRET_A_REPOSITORIES: "acme" }, 'ROUTINES_SECRET_A_REPOSITORIES: "acme" is not owner/repository, owner/* or *'],
    [{ ROUTINES_SECRET_A: "a", ROUTINES_SECRET_A_REPOSITORIES: "acme/app/x" }, 'ROUTINES_SECRET_A_REPOSITORIES: "acme/app/x" is not owner/repository, owner/* or *'],
    [{ ROUTINES_SECRET_A: "a", ROUTINES_SECRET_A_REPOSITORIES: "*/app" }, 'ROUTINES_SECRET_A_REPOSITORIES: "*/app" is not owner/repository, owner/* or *'],
    [
      { ROUTINES_SECRET_A: "a", ROUTINES_SECRET_A_REPOSITORIES: "acme/*", ROUTINES_SECRET_A__X: "x", ROUTINES_SECRET_A__X_REPOSITORIES: "acme/*" },
      "ROUTINES_SECRET_A and ROUTINES_SECRET_A__X both grant secret A to acme/*: grant each repository one value",
    ],
    [{ ROUTINES_SECRET___X: "x" }, "ROUTINES_SECRET___X has no secret name: use ROUTINES_SECRET_<NAME>"],
  ])("are refused when the settings are wrong: %j", (env, message) => {
    expect(() => readSecretGrants(env)).toThrow(message);
  });
});
