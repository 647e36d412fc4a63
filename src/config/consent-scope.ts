// A routine's other repositories that do not consent to its repository's runs: one warning at each
// entry of `repositories:` that names one, saying what to write there. A warning, not an error: the
// other repository may add its share_with later; until it does, only the routine's runs fail.
import { LineCounter, parseDocument } from "yaml";
import { createLocator } from "./locate.js";
import { byPosition, type ConfigPath, type Problem } from "./problem.js";
import type { RoutinesConfig } from "./validate.js";

/** Why each refused repository (lower-cased owner/name) cannot take part in the file's runs. */
export type Refusals = Readonly<Record<string, string>>;

/** The repositories the file's valid routines name besides "self", each once, lower-cased, in the order written. */
export function namedRepositories(config: RoutinesConfig): string[] {
  const named = new Set<string>();
  for (const routine of Object.values(config.routines)) {
    for (const entry of routine.repositories ?? []) if (entry !== "self") named.add(entry.toLowerCase());
  }
  return [...named];
}

export function consentProblems(source: string, config: RoutinesConfig, refusals: Refusals): Problem[] {
  const refused: Array<{ path: ConfigPath; message: string }> = Object.entries(config.routines).flatMap(([name, routine]) =>
    (routine.repositories ?? []).flatMap((entry, index) => {
      const message = Object.hasOwn(refusals, entry.toLowerCase()) ? refusals[entry.toLowerCase()] : undefined;
      return message ? [{ path: ["routines", name, "repositories", index], message }] : [];
    }),
  );
  if (refused.length === 0) return [];
  // The file is parsed again only to place the warnings, which is rare.
  const lineCounter = new LineCounter();
  const locate = createLocator(parseDocument(source, { lineCounter }), lineCounter);
  return refused.map(({ path, message }) => ({ ...locate(path), path, message, severity: "warning" as const })).sort(byPosition);
}

/** The config with the consent warnings among its own problems, in source order. */
export function withConsentScope(source: string, config: RoutinesConfig, refusals: Refusals): RoutinesConfig {
  const problems = consentProblems(source, config, refusals);
  return problems.length === 0 ? config : { ...config, problems: [...config.problems, ...problems].sort(byPosition) };
}
