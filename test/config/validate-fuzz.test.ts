// Broken routines files of every shape: the validator must turn each into located problems, never
// throw, and a mistake inside one routine must not stop the others. Cases are generated from a
// seeded PRNG; a failure names its seed, and FUZZ_SEED=<seed> reruns that case alone.
import { readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument, stringify } from "yaml";
import { commandName } from "../../src/config/checks.js";
import { NAME, Routine, Trigger } from "../../src/config/schema.js";
import { validateRoutines, type RoutinesConfig } from "../../src/config/validate.js";
import { FIXTURES, readExample } from "../support/fixtures.js";
import { schemaKeys } from "../support/schema-keys.js";

const now = new Date("2026-11-24T12:00:00Z");
const CASES = 1000; // per kind of case; three kinds

type Path = Array<string | number>;
type Random = ReturnType<typeof random>;

/** mulberry32: small, fast and the same on every machine. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}

// ---------------------------------------------------------------------------------------------
// What the mutations draw from

/** Every key the schema knows, so renamed and inserted keys are often ones that mean something elsewhere. */
const KNOWN_KEYS = schemaKeys();

const ODD_STRINGS = [
  "", " ", "api", "github", "schedule", "command", "__proto__", "constructor", "toString", "hasOwnProperty",
  "my routine", "-x", "!", "!main", "/(/", "/x/zz", "*", "**", "#123-*", "null", "~", "true", "yes", "1e3",
  "0x1F", ".inf", ".nan", "-", "- api", "&a", "*a", "!!str", "? x", "a: b", "[", "{", "'", '"', "\\",
  "\t", "line\nbreak", "ünïcödé", "🙂", "\u0000", "\u2028", "x".repeat(3000), "* * * * *", "61 25 32 13 8",
  "0 0 31 2 *", "2026-11-24T11:00", "2099-01-01T00:00Z", "2026-13-45T99:99", "Europe/Berlin", "Nowhere/City",
  "0s", "1h", "soon", "self", "owner/name", "../x", "/etc/passwd", "claude/x", "$(true)", "${{ secrets.X }}",
  "<script>", "%", "@", "`", "review", "triage", "pull_request", "release", "opened", "daily", "09:00",
];

function randomScalar(rng: Random): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => rng.chance(0.5),
    () => rng.pick([0, -1, 1, 59, 60, 1000, 1001, 1.5, 2 ** 53 + 2, Number.POSITIVE_INFINITY, Number.NaN]),
    () => rng.pick(ODD_STRINGS),
    () => rng.pick(KNOWN_KEYS),
  ])();
}

function randomValue(rng: Random, depth = 0): unknown {
  const kind = depth > 2 ? 0 : rng.int(4);
  if (kind <= 1) return randomScalar(rng);
  if (kind === 2) return Array.from({ length: rng.int(3) }, () => randomValue(rng, depth + 1));
  return Object.fromEntries(Array.from({ length: rng.int(3) }, () => [rng.pick([...KNOWN_KEYS, ...ODD_STRINGS]), randomValue(rng, depth + 1)]));
}

/** A value of another type than `value`, so a replacement is always a change of shape. */
function otherType(rng: Random, value: unknown): unknown {
  const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v);
  for (;;) {
    const candidate = randomValue(rng);
    if (typeOf(candidate) !== typeOf(value)) return candidate;
  }
}

// ---------------------------------------------------------------------------------------------
// Tree mutations

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function get(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) node = (node as Record<string | number, unknown>)[segment];
  return node;
}

/** Every path in the tree, the root's included. */
function paths(root: unknown): Path[] {
  const found: Path[] = [];
  const walk = (node: unknown, path: Path) => {
    found.push(path);
    if (Array.isArray(node)) node.forEach((item, index) => walk(item, [...path, index]));
    else if (isMap(node)) Object.entries(node).forEach(([key, item]) => walk(item, [...path, key]));
  };
  walk(root, []);
  return found;
}

/** Replaces the node at `path` (never the root) by `value`; a map keeps its key order. */
function set(root: unknown, path: Path, value: unknown): void {
  const parent = get(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
}

function renameKey(map: Record<string, unknown>, from: string, to: string): void {
  const entries = Object.entries(map).map(([key, value]): [string, unknown] => [key === from ? to : key, value]);
  for (const key of Object.keys(map)) delete map[key];
  for (const [key, value] of entries) Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Applies one mutation at a path of `candidates` (paths of length ≥ 1) and says what it did.
 * Nothing above `floor` changes: a mutation that would change the parent of a path shorter than
 * that replaces the value instead. `- api: {}` → `- api` is its own mutation: the case that took
 * repositories down.
 */
function mutateTree(rng: Random, root: unknown, candidates: Path[], floor: number): string {
  const path = rng.pick(candidates);
  const parentPath = path.slice(0, -1);
  const parentOk = parentPath.length >= floor;
  const parent = parentOk ? get(root, parentPath) : undefined;
  const key = path[path.length - 1]!;
  const value = get(root, path);
  const at = JSON.stringify(path);
  switch (rng.int(8)) {
    case 0:
      set(root, path, otherType(rng, value));
      return `replace ${at} by another type`;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else if (isMap(parent)) delete parent[key];
      else break;
      return `delete ${at}`;
    case 2:
      if (isMap(parent)) {
        renameKey(parent, String(key), rng.pick([...KNOWN_KEYS, ...ODD_STRINGS]));
        return `rename ${at}`;
      }
      if (!Array.isArray(parent)) break;
      parent.splice(key as number, 0, structuredClone(value));
      return `duplicate ${at}`;
    case 3: {
      const list = Array.isArray(value) ? value : Array.isArray(parent) ? parent : undefined;
      if (list && list.length > 0) {
        list.push(structuredClone(rng.pick(list)));
        return `duplicate an item of ${JSON.stringify(Array.isArray(value) ? path : parentPath)}`;
      }
      set(root, path, [structuredClone(value), structuredClone(value)]);
      return `double ${at}`;
    }
    case 4: {
      // A map written as its first key alone: `- api: {}` → `- api`, `- schedule: {…}` → `- schedule`.
      const map = isMap(value) ? value : isMap(parent) ? parent : undefined;
      const target = isMap(value) ? path : parentPath;
      const first = map ? Object.keys(map)[0] : undefined;
      if (first !== undefined && target.length >= Math.max(1, floor)) {
        set(root, target, first);
        return `collapse ${JSON.stringify(target)} to its first key`;
      }
      set(root, path, rng.pick(ODD_STRINGS));
      return `replace ${at} by an odd string`;
    }
    case 5:
      if (isMap(value)) {
        value[rng.pick([...KNOWN_KEYS, ...ODD_STRINGS])] = randomValue(rng);
        return `insert a key into ${at}`;
      }
      set(root, path, rng.pick(ODD_STRINGS));
      return `replace ${at} by an odd string`;
    case 6: {
      let nested: unknown = structuredClone(value);
      const depth = 2 + rng.int(40);
      for (let i = 0; i < depth; i++) nested = rng.chance(0.5) ? [nested] : { [rng.pick(KNOWN_KEYS)]: nested };
      set(root, path, nested);
      return `nest ${at} ${depth} deep`;
    }
    default: {
      // A value from anywhere in the document (read, not changed): right shapes in wrong places.
      const donor = get(root, rng.pick(paths(root)));
      set(root, path, structuredClone(donor));
      return `replace ${at} by another value of the document`;
    }
  }
  set(root, path, otherType(rng, value));
  return `replace ${at} by another type`;
}

// ---------------------------------------------------------------------------------------------
// Text mutations

const ODD_LINES = ["- api", "  - api", "      - api", "---", "...", "%YAML 1.2", "&a", "*a", "<<: *a", "? x", ": y", "!!binary aGk=", "  !!set { a }", "{", "[", "'", '"', "\t", "\tprompt: x", "  routines:", "version: 2", "#", "x: |", "  \"code review\":", "  -x:"];

function mutateText(rng: Random, source: string): { text: string; did: string } {
  const lines = source.split("\n");
  const at = rng.int(lines.length);
  const did: string[] = [];
  const steps = 1 + rng.int(3);
  for (let step = 0; step < steps; step++) {
    const line = rng.int(lines.length);
    switch (rng.int(7)) {
      case 0:
        lines.splice(line, 1);
        did.push(`delete line ${line + 1}`);
        break;
      case 1:
        lines.splice(line, 0, lines[line] ?? "");
        did.push(`duplicate line ${line + 1}`);
        break;
      case 2: {
        const shift = rng.pick([-4, -2, -1, 1, 2, 4]);
        lines[line] = shift > 0 ? " ".repeat(shift) + (lines[line] ?? "") : (lines[line] ?? "").replace(new RegExp(`^ {0,${-shift}}`), "");
        did.push(`indent line ${line + 1} by ${shift}`);
        break;
      }
      case 3:
        lines.splice(line, 0, rng.pick(ODD_LINES));
        did.push(`insert an odd line at ${line + 1}`);
        break;
      case 4: {
        const text = lines[line] ?? "";
        const col = rng.int(text.length + 1);
        lines[line] = text.slice(0, col) + rng.pick([":", "-", " ", "\t", "#", "{", "}", "[", "]", "'", '"', "&", "*", "!", "|", ">", "?", "%", "@"]) + text.slice(col);
        did.push(`insert a character at ${line + 1}:${col + 1}`);
        break;
      }
      case 5: {
        const depth = 1 + rng.int(rng.chance(0.2) ? 2000 : 30);
        lines.splice(line, 0, `${" ".repeat(rng.pick([0, 2, 4, 6]))}x: ${"[".repeat(depth)}${"]".repeat(depth)}`);
        did.push(`insert ${depth} nested lists at line ${line + 1}`);
        break;
      }
      default:
        lines.splice(at, 0, ...lines.splice(line, 1));
        did.push(`move line ${line + 1} to ${at + 1}`);
    }
  }
  return { text: lines.join("\n"), did: did.join(", ") };
}

// ---------------------------------------------------------------------------------------------
// Cases and properties

const BASES: Array<{ name: string; text: string }> = [
  { name: "routines.example.yml", text: readExample() },
  ...["valid", "invalid", "readme", "."].flatMap((folder) =>
    readdirSync(join(FIXTURES, "config", folder))
      .filter((name) => name.endsWith(".yml"))
      .sort()
      .map((name) => ({ name: posix.join("fixtures/config", folder, name), text: readFileSync(join(FIXTURES, "config", folder, name), "utf8") })),
  ),
];
/** Bases that YAML can read, as trees to mutate. */
const TREES = BASES.filter((base) => parseDocument(base.text).errors.length === 0).map((base) => ({ ...base, tree: parseDocument(base.text).toJS() as unknown }));

const validate = (source: string) => validateRoutines(source, { now, minScheduleInterval: 15 * 60_000 });

/** What a base is before any mutation, once per base: the valid routines to compare with. */
const baselines = new Map<string, RoutinesConfig>();
function baseline(name: string, tree: unknown): RoutinesConfig {
  const known = baselines.get(name) ?? validate(stringify(tree));
  baselines.set(name, known);
  return known;
}

/** The properties every outcome has, whatever the input. */
function checkOutcome(source: string, config: RoutinesConfig): void {
  const lineCount = source.split("\n").length;
  for (const problem of config.problems) {
    expect(problem.line, problem.message).toBeGreaterThanOrEqual(1);
    expect(problem.line, problem.message).toBeLessThanOrEqual(lineCount + 1);
    expect(problem.col, problem.message).toBeGreaterThanOrEqual(1);
    expect(problem.message.trim(), JSON.stringify(problem)).not.toBe("");
    // One problem, one line of output, whatever text the file holds.
    expect(problem.message, JSON.stringify(problem)).not.toMatch(/[\n\r\u2028\u2029]/);
    expect(problem.message.length, problem.message).toBeLessThan(600);
  }
  const valid = Object.keys(config.routines);
  if (valid.length === 0) return;
  const raw = parseDocument(source).toJS({ maxAliasCount: 100 }) as { version?: unknown; routines?: Record<string, unknown> };
  expect(raw.version).toBe(1);
  for (const name of valid) {
    expect(name).toMatch(NAME);
    expect(Object.hasOwn(raw.routines ?? {}, name)).toBe(true);
    const parsed = Routine.safeParse(raw.routines?.[name]);
    expect(parsed.success, `routine ${name} is reported valid`).toBe(true);
    expect(config.routines[name]).toEqual(parsed.data);
  }
}

/** The command names a routine claims, as the cross-checks see them. */
function claimedCommands(name: string, routine: unknown): string[] {
  if (!isMap(routine) || !Array.isArray(routine.triggers)) return [];
  return routine.triggers.flatMap((raw) => {
    const parsed = Trigger.safeParse(raw);
    const command = parsed.success ? commandName(parsed.data, name) : undefined;
    return command === undefined ? [] : [command];
  });
}

/** Runs one case; a failure is rethrown with the seed, what the case did, and the document. */
function runCase(seed: number, make: (rng: Random) => { source: string; did: string; check?: (config: RoutinesConfig) => void }): void {
  const rng = random(seed);
  let made: ReturnType<typeof make> | undefined;
  try {
    made = make(rng);
    const config = validate(made.source);
    checkOutcome(made.source, config);
    made.check?.(config);
  } catch (cause) {
    const detail = made ? `${made.did}\n--- document ---\n${made.source.length > 4000 ? `${made.source.slice(0, 4000)}\n…` : made.source}` : "(while generating)";
    throw new Error(`fuzz case failed: seed ${seed} (rerun it alone with FUZZ_SEED=${seed}): ${(cause as Error).message}\n${detail}`, { cause });
  }
}

// Each kind of case has its own million of seeds, so a seed names its kind too.
const only = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const seeds = (offset: number) =>
  only !== undefined ? (only >= offset && only < offset + 1_000_000 ? [only] : []) : Array.from({ length: CASES }, (_, i) => offset + i);

describe("validateRoutines on broken documents", () => {
  it("has bases to start from", () => {
    expect(TREES.length).toBeGreaterThanOrEqual(20);
  });

  it("keeps the other routines valid, as they were, when one routine is broken", () => {
    for (const seed of seeds(1_000_000)) {
      runCase(seed, (rng) => {
        // Bases with several routines, so that there are others to stay valid.
        const candidates = TREES.filter(({ tree }) => isMap(tree) && isMap(tree.routines) && Object.keys(tree.routines).length > 1);
        const base = rng.pick(candidates);
        const tree = structuredClone(base.tree) as { routines: Record<string, unknown> };
        const before = baseline(base.name, tree);
        const target = rng.pick(Object.keys(tree.routines));
        const did = [`${base.name}: in routine ${target}`];
        for (let step = 1 + rng.int(3); step > 0; step--) {
          // Inside the routine's value, or the value itself (length 2); never its key.
          const inside = paths(tree).filter((path) => path[0] === "routines" && path[1] === target);
          const deletable = inside.filter((path) => path.length >= 3);
          did.push(mutateTree(rng, tree, deletable.length > 0 && rng.chance(0.9) ? deletable : inside.filter((path) => path.length === 2), 2));
        }
        const claimed = new Set(claimedCommands(target, tree.routines[target]));
        return {
          source: stringify(tree),
          did: did.join("; "),
          check: (config) => {
            for (const name of Object.keys(before.routines)) {
              if (name === target) continue;
              // Command names are shared by the file: a routine that takes another's name first wins it.
              if (claimedCommands(name, tree.routines[name]).some((command) => claimed.has(command))) continue;
              expect(Object.keys(config.routines), `routine ${name} stays valid`).toContain(name);
              expect(config.routines[name]).toEqual(before.routines[name]);
            }
          },
        };
      });
    }
  });

  it("turns a mistake anywhere in the tree into located problems", () => {
    for (const seed of seeds(2_000_000)) {
      runCase(seed, (rng) => {
        const base = rng.pick(TREES);
        const holder = { root: structuredClone(base.tree) };
        const did = [base.name];
        for (let step = 1 + rng.int(3); step > 0; step--) did.push(mutateTree(rng, holder, paths(holder).filter((path) => path.length >= 1), 1));
        return { source: holder.root === undefined ? "" : stringify(holder.root), did: did.join("; ") };
      });
    }
  });

  it("turns broken text into located problems", () => {
    for (const seed of seeds(3_000_000)) {
      runCase(seed, (rng) => {
        const base = rng.pick(BASES);
        const tree = TREES.find((candidate) => candidate.name === base.name);
        const { text, did } = mutateText(rng, tree && rng.chance(0.5) ? stringify(tree.tree) : base.text);
        return { source: text, did: `${base.name}: ${did}` };
      });
    }
  });
});
