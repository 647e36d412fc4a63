// Maps a path in the parsed document back to a line and column of the YAML source.
import { isMap, isNode, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import type { ConfigPath } from "./problem.js";

export interface Position {
  line: number;
  col: number;
}

export type Locator = (path: ConfigPath, options?: { key?: boolean }) => Position;

/**
 * Points at the value at `path`; at its key instead when `key` is set, when the value is a block
 * map or list (the key is where a reader looks), or when the value is missing (its parent's key).
 */
export function createLocator(doc: Document, lineCounter: LineCounter): Locator {
  const position = (node: Node | undefined): Position => {
    const offset = node?.range?.[0] ?? doc.contents?.range?.[0] ?? 0;
    return lineCounter.linePos(offset);
  };

  return (path, options = {}) => {
    let node: unknown = doc.contents;
    let key: Node | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) return position(key ?? node);
        key = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number" && isNode(node.items[segment])) {
        node = node.items[segment];
        key = node as Node;
      } else {
        return position(key ?? (isNode(node) ? node : undefined));
      }
      if (!isNode(node)) return position(key);
    }
    if (options.key && key) return position(key);
    const block = (isMap(node) || isSeq(node)) && !node.flow;
    return position(block && key ? key : (node as Node));
  };
}
