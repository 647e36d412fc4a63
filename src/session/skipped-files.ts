// Which changed files a review skips unless told otherwise: files people do not review by reading
// them, because a tool wrote them. Their diff is long and says nothing a reviewer can act on, and
// reading it would spend the run's budget on noise. The review's coverage line names every file
// skipped, so nothing is left out silently.
import { matchPathGlob } from "../config/globs.js";

export type SkipReason = "lock file" | "generated" | "vendored" | "skipped by review.skip";

/**
 * The default list, kept short on purpose; a routine adds its own globs with review.skip, and
 * takes one back with "!glob".
 * - Lock files: written by package managers from the manifest next to them, which is reviewed.
 * - Minified code and source maps: built from sources in the same change.
 * - vendor/ and node_modules/: other projects' code, copied in.
 * GitHub's linguist attributes in .gitattributes add the repository's own generated and vendored files.
 */
export const DEFAULT_SKIPPED: ReadonlyArray<{ glob: string; reason: SkipReason }> = [
  ...[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "Cargo.lock",
    "go.sum",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "flake.lock",
  ].map((name) => ({ glob: `**/${name}`, reason: "lock file" as const })),
  ...["**/*.min.js", "**/*.min.css", "**/*.map"].map((glob) => ({ glob, reason: "generated" as const })),
  ...["vendor/**", "**/node_modules/**"].map((glob) => ({ glob, reason: "vendored" as const })),
];

/** A .gitattributes line that sets or unsets linguist-generated or linguist-vendored. */
interface AttributeRule {
  glob: string;
  attribute: "generated" | "vendored";
  set: boolean;
}

/**
 * The linguist rules of a .gitattributes file. Patterns follow gitignore's rules as git applies
 * them to attributes: one without a slash matches a name at any depth; a leading slash anchors it
 * at the root.
 */
export function linguistRules(gitattributes: string): AttributeRule[] {
  const rules: AttributeRule[] = [];
  for (const raw of gitattributes.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [pattern = "", ...attributes] = line.split(/\s+/);
    const anchored = pattern.replace(/^\//, "");
    const glob = pattern.includes("/") && !pattern.endsWith("/") ? anchored : `**/${anchored.replace(/\/$/, "/**")}`;
    for (const attribute of attributes) {
      const match = /^(-|!)?linguist-(generated|vendored)(?:=(true|false))?$/.exec(attribute);
      if (!match) continue;
      rules.push({ glob, attribute: match[2] as "generated" | "vendored", set: match[1] === undefined && match[3] !== "false" });
    }
  }
  return rules;
}

export interface SkipSettings {
  /** The routine's review.skip globs; "!glob" reviews what it matches after all. */
  skip?: readonly string[];
  /** The default branch's .gitattributes, when it has one (never the pull request's: its author would choose what is not reviewed). */
  gitattributes?: string;
}

const matches = (glob: string, path: string) => {
  try {
    return matchPathGlob(glob, path);
  } catch {
    return false;
  }
};

/** Why a review skips `path`, or undefined when it is reviewed. */
export function skipReason(path: string, settings: SkipSettings): SkipReason | undefined {
  const own = settings.skip ?? [];
  if (own.some((glob) => glob.startsWith("!") && matches(glob.slice(1), path))) return undefined;
  if (own.some((glob) => !glob.startsWith("!") && matches(glob, path))) return "skipped by review.skip";
  // The last rule that names an attribute decides it, as in git.
  const attributes = new Map<string, boolean>();
  for (const rule of linguistRules(settings.gitattributes ?? "")) if (matches(rule.glob, path)) attributes.set(rule.attribute, rule.set);
  if (attributes.get("generated")) return "generated";
  if (attributes.get("vendored")) return "vendored";
  const byDefault = DEFAULT_SKIPPED.find(({ glob }) => matches(glob, path));
  // A .gitattributes that unsets the attribute takes the default back.
  if (byDefault && attributes.get(byDefault.reason === "vendored" ? "vendored" : "generated") === false) return undefined;
  return byDefault?.reason;
}
