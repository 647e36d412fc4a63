import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { routinesJsonSchema } from "../../src/config/json-schema.js";
import { schemaKeys } from "../support/schema-keys.js";

describe("schema/routines.schema.json", () => {
  it("is the schema generated from the code (regenerate with `npm run schema`)", () => {
    const committed = JSON.parse(readFileSync(new URL("../../schema/routines.schema.json", import.meta.url), "utf8"));
    expect(committed).toEqual(routinesJsonSchema());
  });

  it("describes every trigger kind and rejects unknown keys", () => {
    const schema = routinesJsonSchema() as { additionalProperties: boolean; properties: { routines: { additionalProperties: { properties: { triggers: { items: { properties: object; minProperties: number } } } } } } };
    const trigger = schema.properties.routines.additionalProperties.properties.triggers.items;
    expect(Object.keys(trigger.properties)).toEqual(["github", "schedule", "api", "command"]);
    expect(trigger.minProperties).toBe(1);
    expect(schema.additionalProperties).toBe(false);
  });
});

describe("README configuration reference", () => {
  it("documents every key of the schema", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const keys = schemaKeys();
    expect(keys.length).toBeGreaterThan(30);
    expect(keys.filter((key) => !readme.includes(`\`${key}\``))).toEqual([]);
  });
});
