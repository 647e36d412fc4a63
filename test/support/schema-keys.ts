// Every key the routines schema knows, from its JSON Schema.
import { routinesJsonSchema } from "../../src/config/json-schema.js";

export function schemaKeys(): string[] {
  const keys = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(collect);
    if (typeof node !== "object" || node === null) return;
    const properties = (node as { properties?: Record<string, unknown> }).properties;
    if (properties) Object.keys(properties).forEach((key) => keys.add(key));
    Object.values(node).forEach(collect);
  };
  collect(routinesJsonSchema());
  return [...keys];
}
