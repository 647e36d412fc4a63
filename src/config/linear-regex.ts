// Regular expressions for filters, matched in time linear in the text: the pattern becomes a
// Thompson automaton that is run over the text once, all states at a time, so no pattern can
// backtrack. JavaScript's syntax, less what needs backtracking: backreferences and lookaround are
// refused. Text is read as UTF-16 code units, as JavaScript reads it without the `u` flag.
import { StepBudget } from "./step-budget.js";

/** Most automaton states one pattern may compile to; `a{1,100}` takes about 200. */
export const MAX_REGEX_STATES = 2_000;
const SUPPORTED_FLAGS = /^[imsugyd]*$/;

export class RegexError extends Error {
  override name = "RegexError";
}

type CharTest = (code: number) => boolean;
type Assertion = "start" | "end" | "word" | "notWord";
type Node =
  | { type: "char"; test: CharTest }
  | { type: "seq"; items: Node[] }
  | { type: "alt"; options: Node[] }
  | { type: "repeat"; item: Node; min: number; max: number }
  | { type: "assert"; kind: Assertion };

const code = (char: string) => char.charCodeAt(0);
const inRange = (from: number, to: number): CharTest => (c) => c >= from && c <= to;
const anyOf = (...tests: CharTest[]): CharTest => (c) => tests.some((test) => test(c));
const not = (test: CharTest): CharTest => (c) => !test(c);
const DIGIT = inRange(48, 57);
const WORD = anyOf(DIGIT, inRange(65, 90), inRange(97, 122), (c) => c === 95);
const LINE_END: CharTest = (c) => c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
const SPACE: CharTest = (c) => (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
const CONTROL_ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, "0": 0 };

class Parser {
  #at = 0;
  constructor(
    private readonly source: string,
    private readonly ignoreCase: boolean,
    private readonly dotAll: boolean,
  ) {}

  parse(): Node {
    const node = this.#alternation();
    if (this.#at < this.source.length) throw new RegexError(`unexpected "${this.source[this.#at]}" at ${this.#at + 1}`);
    return node;
  }

  #peek = () => this.source[this.#at];
  #eat = (text: string) => (this.source.startsWith(text, this.#at) ? ((this.#at += text.length), true) : false);

  #alternation(): Node {
    const options = [this.#sequence()];
    while (this.#eat("|")) options.push(this.#sequence());
    return options.length === 1 ? options[0]! : { type: "alt", options };
  }

  #sequence(): Node {
    const items: Node[] = [];
    while (this.#at < this.source.length && this.#peek() !== "|" && this.#peek() !== ")") items.push(this.#quantified());
    return { type: "seq", items };
  }

  #quantified(): Node {
    const item = this.#atom();
    const bounds = this.#quantifier();
    if (!bounds) return item;
    if (item.type === "assert") throw new RegexError("a quantifier after an anchor or \\b is not supported");
    this.#eat("?"); // lazy or greedy: the same for whether the text matches
    return { type: "repeat", item, ...bounds };
  }

  #quantifier(): { min: number; max: number } | undefined {
    if (this.#eat("*")) return { min: 0, max: Infinity };
    if (this.#eat("+")) return { min: 1, max: Infinity };
    if (this.#eat("?")) return { min: 0, max: 1 };
    const braces = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.#at));
    if (!braces) return undefined;
    this.#at += braces[0].length;
    const min = Number(braces[1]);
    const max = braces[2] === undefined ? min : braces[3] ? Number(braces[3]) : Infinity;
    return { min, max };
  }

  #atom(): Node {
    const char = this.source[this.#at++]!;
    switch (char) {
      case "^":
        return { type: "assert", kind: "start" };
      case "$":
        return { type: "assert", kind: "end" };
      case ".":
        return { type: "char", test: this.dotAll ? () => true : not(LINE_END) };
      case "[":
        return { type: "char", test: this.#class() };
      case "(":
        return this.#group();
      case "\\":
        return this.#escape(false);
      default:
        return this.#literal(code(char));
    }
  }

  #group(): Node {
    if (this.#eat("?=") || this.#eat("?!") || this.#eat("?<=") || this.#eat("?<!")) throw new RegexError("lookahead and lookbehind are not supported");
    if (!this.#eat("?:")) {
      const named = /^\?<[A-Za-z_$][\w$]*>/.exec(this.source.slice(this.#at));
      if (named) this.#at += named[0].length;
    }
    const inner = this.#alternation();
    if (!this.#eat(")")) throw new RegexError("a group is not closed");
    return inner;
  }

  #literal(c: number): Node {
    return { type: "char", test: this.#caseless((x) => x === c) };
  }

  /** With `i`, a character also matches its other case. */
  #caseless(test: CharTest): CharTest {
    if (!this.ignoreCase) return test;
    return (c) => {
      if (test(c)) return true;
      const char = String.fromCharCode(c);
      const lower = char.toLowerCase();
      const upper = char.toUpperCase();
      return (lower.length === 1 && test(code(lower))) || (upper.length === 1 && test(code(upper)));
    };
  }

  /** An escape after `\`: a character test, or an assertion outside classes. */
  #escape(inClass: boolean): Node {
    const char = this.source[this.#at++];
    if (char === undefined) throw new RegexError("the pattern ends with \\");
    const classes: Record<string, CharTest> = { d: DIGIT, D: not(DIGIT), w: WORD, W: not(WORD), s: SPACE, S: not(SPACE) };
    if (classes[char]) return { type: "char", test: classes[char] };
    if (!inClass && char === "b") return { type: "assert", kind: "word" };
    if (!inClass && char === "B") return { type: "assert", kind: "notWord" };
    if (inClass && char === "b") return this.#literal(8);
    if (/[1-9]/.test(char) || (char === "k" && this.#peek() === "<")) throw new RegexError("backreferences are not supported");
    if (char === "p" || char === "P") throw new RegexError("\\p{…} property escapes are not supported");
    if (char === "0" && /\d/.test(this.#peek() ?? "")) throw new RegexError("octal escapes are not supported");
    if (char in CONTROL_ESCAPES) return this.#literal(CONTROL_ESCAPES[char]!);
    const hex = char === "x" ? /^[0-9a-fA-F]{2}/.exec(this.source.slice(this.#at)) : char === "u" ? /^[0-9a-fA-F]{4}/.exec(this.source.slice(this.#at)) : null;
    if (hex) {
      this.#at += hex[0].length;
      return this.#literal(Number.parseInt(hex[0], 16));
    }
    if (char === "c" && /[A-Za-z]/.test(this.#peek() ?? "")) return this.#literal(code(this.source[this.#at++]!) % 32);
    return this.#literal(code(char));
  }

  /** `[…]` after its `[`. */
  #class(): CharTest {
    const negated = this.#eat("^");
    const tests: CharTest[] = [];
    const single = (): { code?: number; test: CharTest } => {
      const char = this.source[this.#at++];
      if (char === undefined) throw new RegexError("a character class is not closed");
      if (char !== "\\") return { code: code(char), test: (c) => c === code(char) };
      const start = this.#at;
      const escaped = this.#escape(true);
      if (escaped.type !== "char") throw new RegexError("unexpected escape in a character class");
      const text = this.source.slice(start, this.#at);
      return /^[dDwWsS]$/.test(text) ? { test: escaped.test } : { code: literalCode(text), test: escaped.test };
    };
    while (!this.#eat("]")) {
      if (this.#at >= this.source.length) throw new RegexError("a character class is not closed");
      const first = single();
      if (this.#peek() === "-" && this.source[this.#at + 1] !== "]" && this.#at + 1 < this.source.length) {
        this.#at++;
        const last = single();
        if (first.code === undefined || last.code === undefined) throw new RegexError("a range in a character class needs a character at each end");
        if (first.code > last.code) throw new RegexError("a range in a character class is out of order");
        tests.push(inRange(first.code, last.code));
      } else {
        tests.push(first.test);
      }
    }
    const test = this.#caseless(anyOf(...tests));
    return negated ? not(test) : test;
  }
}

/** The character an escape inside a class stands for (`\n`, `\x41`, `\-`, …). */
function literalCode(escape: string): number {
  if (escape in CONTROL_ESCAPES) return CONTROL_ESCAPES[escape]!;
  if (escape === "b") return 8;
  if (/^[xu][0-9a-fA-F]+$/.test(escape)) return Number.parseInt(escape.slice(1), 16);
  if (/^c[A-Za-z]$/.test(escape)) return code(escape[1]!) % 32;
  return code(escape);
}

// The automaton: states in an array, each a character test, an assertion, a fork or the match.
type State =
  | { kind: "char"; test: CharTest; next: number }
  | { kind: "assert"; assertion: Assertion; next: number }
  | { kind: "split"; next: number; other: number }
  | { kind: "match" };

class Compiler {
  readonly states: State[] = [];

  /** Compiles `node` so that it continues at `next`; returns its first state. */
  compile(node: Node, next: number): number {
    switch (node.type) {
      case "char":
        return this.#add({ kind: "char", test: node.test, next });
      case "assert":
        return this.#add({ kind: "assert", assertion: node.kind, next });
      case "seq":
        return node.items.reduceRight((after, item) => this.compile(item, after), next);
      case "alt": {
        const starts = node.options.map((option) => this.compile(option, next));
        return starts.reduceRight((other, start) => this.#add({ kind: "split", next: start, other }));
      }
      case "repeat":
        return this.#repeat(node, next);
    }
  }

  #repeat({ item, min, max }: Extract<Node, { type: "repeat" }>, next: number): number {
    if (min > max) throw new RegexError("a repetition {n,m} needs n <= m");
    let start: number;
    if (max === Infinity) {
      // A loop: the split state tries the item (which comes back to it) or goes on.
      const loop = this.#add({ kind: "split", next: -1, other: next });
      (this.states[loop] as { next: number }).next = this.compile(item, loop);
      start = loop;
    } else {
      start = this.#optionalChain(item, max - min, next);
    }
    for (let i = 0; i < min; i++) start = this.compile(item, start);
    return start;
  }

  /** `count` optional copies of `item` in a row, each able to skip to `next`. */
  #optionalChain(item: Node, count: number, next: number): number {
    let start = next;
    for (let i = 0; i < count; i++) start = this.#add({ kind: "split", next: this.compile(item, start), other: next });
    return start;
  }

  #add(state: State): number {
    if (this.states.length >= MAX_REGEX_STATES) throw new RegexError(`the pattern is too large to match in linear time (more than ${MAX_REGEX_STATES} states); shorten it or lower its repetition counts`);
    this.states.push(state);
    return this.states.length - 1;
  }
}

export interface LinearRegex {
  /** Whether the pattern matches anywhere in `text`; every state visited costs one step of `budget`. */
  test(text: string, budget?: StepBudget): boolean;
}

/** Compiles a filter's regular expression; throws RegexError (or SyntaxError) saying why it cannot be used. */
export function compileLinearRegex(source: string, flags: string): LinearRegex {
  if (!SUPPORTED_FLAGS.test(flags)) throw new RegexError(`flags "${flags}" are not supported; use i, m or s`);
  new RegExp(source, flags); // JavaScript's own syntax check first, with its own messages
  const multiline = flags.includes("m");
  const ast = new Parser(source, flags.includes("i"), flags.includes("s")).parse();
  const compiler = new Compiler();
  const match = compiler.states.push({ kind: "match" }) - 1;
  const start = compiler.compile(ast, match);
  const states = compiler.states;

  const holds = (assertion: Assertion, text: string, at: number): boolean => {
    const before = at > 0 ? text.charCodeAt(at - 1) : -1;
    const after = at < text.length ? text.charCodeAt(at) : -1;
    switch (assertion) {
      case "start":
        return at === 0 || (multiline && LINE_END(before));
      case "end":
        return at === text.length || (multiline && LINE_END(after));
      case "word":
      case "notWord": {
        const boundary = (before >= 0 && WORD(before)) !== (after >= 0 && WORD(after));
        return assertion === "word" ? boundary : !boundary;
      }
    }
  };

  return {
    test(text, budget = new StepBudget(Number.POSITIVE_INFINITY)) {
      const seen = new Int32Array(states.length).fill(-1);
      let current: number[] = [];
      let next: number[] = [];
      // Adds a state and everything reachable from it without reading a character; true on a match.
      const add = (list: number[], index: number, at: number): boolean => {
        const stack = [index];
        while (stack.length > 0) {
          const i = stack.pop()!;
          if (seen[i] === at) continue;
          seen[i] = at;
          budget.spend(1);
          const state = states[i]!;
          if (state.kind === "match") return true;
          if (state.kind === "char") list.push(i);
          else if (state.kind === "split") stack.push(state.other, state.next);
          else if (holds(state.assertion, text, at)) stack.push(state.next);
        }
        return false;
      };
      for (let at = 0; ; at++) {
        // Unanchored: a match may start at any position.
        if (add(current, start, at)) return true;
        if (at === text.length) return false;
        const c = text.charCodeAt(at);
        next.length = 0;
        for (const i of current) {
          budget.spend(1);
          const state = states[i] as Extract<State, { kind: "char" }>;
          if (state.test(c) && add(next, state.next, at + 1)) return true;
        }
        [current, next] = [next, current];
      }
    },
  };
}
