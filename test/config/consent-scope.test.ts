import { describe, expect, it } from "vitest";
import { consentProblems, namedRepositories, withConsentScope } from "../../src/config/consent-scope.js";
import { validateRoutines } from "../../src/config/validate.js";

const SOURCE = [
  "version: 1",
  "routines:",
  "  port:",
  "    prompt: Port the change.",
  "    repositories:",
  "      - self",
  "      - acme/lib",
  "      - Acme/Docs",
  "  docs:",
  "    prompt: Update the docs.",
  "    repositories: [self, acme/docs]",
  "",
].join("\n");

describe("other repositories that do not consent", () => {
  it("are named once each, lower-cased, in the order written, without self", () => {
    expect(namedRepositories(validateRoutines(SOURCE))).toEqual(["acme/lib", "acme/docs"]);
  });

  it("are warnings at each entry that names them, with the reason given", () => {
    const config = validateRoutines(SOURCE);
    expect(consentProblems(SOURCE, config, { "acme/docs": "acme/docs does not share itself" })).toEqual([
      { line: 8, col: 9, path: ["routines", "port", "repositories", 2], severity: "warning", message: "acme/docs does not share itself" },
      { line: 11, col: 26, path: ["routines", "docs", "repositories", 1], severity: "warning", message: "acme/docs does not share itself" },
    ]);
  });

  it("leave the config as it is when every named repository consents", () => {
    const config = validateRoutines(SOURCE);
    expect(withConsentScope(SOURCE, config, {})).toBe(config);
    expect(withConsentScope(SOURCE, config, { "acme/other": "not named here" })).toBe(config);
  });

  it("join the file's own problems in source order, keeping its routines", () => {
    const source = SOURCE.replace("    prompt: Update the docs.", "    prompt: Update the docs.\n    timeout: forever");
    const config = validateRoutines(source);
    const checked = withConsentScope(source, config, { "acme/lib": "acme/lib does not share itself" });
    expect(checked.problems.map((problem) => [problem.line, problem.severity])).toEqual([
      [7, "warning"],
      [11, "error"],
    ]);
    expect(Object.keys(checked.routines)).toEqual(["port"]);
  });
});
