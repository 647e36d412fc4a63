// The routine templates shipped in templates/<use>/: each a routines.yml with one routine (and
// maybe an environment) plus its prompt files under prompts/. Combining several keeps their
// comments, so the written file explains itself as the templates do.
import { readdir, readFile } from "node:fs/promises";
import { isMap, isScalar, parseDocument, type Document, type Pair, type YAMLMap } from "yaml";

/** The uses, in the order they are offered, each with the line that describes it. */
export const TEMPLATES = {
  review: "inline review of each pull request that is ready",
  "backlog-triage": "labels new issues and asks for what is missing; sweeps untriaged issues weekly",
  "alert-triage": "monitoring POSTs an alert; a draft pull request with a fix, or a report",
  "deploy-verification": "after the Deploy workflow succeeds, checks what shipped; comments or opens an issue",
  "docs-drift": "weekly, compares the docs with the code and opens a pull request",
  port: "ports a library or module as asked and opens a pull request",
} as const;

export type Use = keyof typeof TEMPLATES;
export const USES = Object.keys(TEMPLATES) as Use[];
export const isUse = (name: string): name is Use => Object.hasOwn(TEMPLATES, name);

/** templates/ sits beside both src/ and dist/, as package.json does. */
const TEMPLATES_DIR = new URL("../../templates/", import.meta.url);

export interface Written {
  /** The combined .claude/routines.yml. */
  config: string;
  /** Prompt files by their path in the checkout (.claude/prompts/<name>.md). */
  prompts: Map<string, string>;
}

const HEADER = ` Routines of this repository, written by \`routines init\` from its templates.
 Check it with \`routines validate\`; routines run from the default branch once this is merged.
 Reference: the README's "Configuration reference" (or \`routines schema\`).`;

async function readTemplate(use: Use): Promise<{ document: Document; prompts: Map<string, string> }> {
  const folder = new URL(`${use}/`, TEMPLATES_DIR);
  const document = parseDocument(await readFile(new URL("routines.yml", folder), "utf8"));
  if (document.errors.length > 0) throw new Error(`template ${use} is not valid YAML: ${document.errors[0]!.message}`);
  const prompts = new Map<string, string>();
  const names = await readdir(new URL("prompts/", folder)).catch(() => []);
  for (const name of names.sort()) prompts.set(`.claude/prompts/${name}`, await readFile(new URL(`prompts/${name}`, folder), "utf8"));
  return { document, prompts };
}

/** The pairs of a top-level map of the template, the comment above the map's first key kept on that key. */
function entries(document: Document, key: string): Pair[] {
  const map = document.get(key, true);
  if (map === undefined) return [];
  if (!isMap(map)) throw new Error(`${key} of a template must be a map`);
  const [first] = map.items;
  if (map.commentBefore && first && isScalar(first.key)) {
    first.key.commentBefore = [map.commentBefore, first.key.commentBefore].filter(Boolean).join("\n");
    map.commentBefore = null;
  }
  return map.items as Pair[];
}

const keyOf = (pair: Pair) => String((pair.key as { value?: unknown } | null)?.value ?? pair.key);

/** One routines file from the chosen templates: environments shared by name when they are the same, routines keyed by name. */
export async function combineTemplates(uses: readonly Use[]): Promise<Written> {
  const sections = { environments: [] as Pair[], routines: [] as Pair[] };
  const environments = new Map<string, string>();
  const prompts = new Map<string, string>();
  for (const use of uses) {
    const template = await readTemplate(use);
    for (const pair of entries(template.document, "environments")) {
      const name = keyOf(pair);
      const value = JSON.stringify(template.document.getIn(["environments", name]));
      if (environments.has(name)) {
        if (environments.get(name) !== value) throw new Error(`templates define the environment ${name} differently`);
        continue;
      }
      environments.set(name, value);
      sections.environments.push(pair);
    }
    sections.routines.push(...entries(template.document, "routines"));
    for (const [path, text] of template.prompts) prompts.set(path, text);
  }
  const combined = parseDocument("version: 1\n");
  combined.commentBefore = HEADER;
  for (const [section, pairs] of Object.entries(sections)) {
    if (pairs.length === 0) continue;
    const map = combined.createNode({}) as YAMLMap;
    map.items.push(...pairs);
    // A blank line between routines, as people write them.
    for (const pair of pairs.slice(1)) if (isScalar(pair.key)) pair.key.spaceBefore = true;
    combined.set(section, map);
  }
  return { config: combined.toString({ lineWidth: 0, flowCollectionPadding: false }), prompts };
}
