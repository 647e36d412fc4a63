// The JSON Schema of .claude/routines.yml, generated from the zod schema, for editors and CI.
import { z } from "zod";
import { RoutinesFile } from "./schema.js";

export function routinesJsonSchema(): Record<string, unknown> {
  // `input`: the schema describes what people write, before defaults and conversions.
  return { ...z.toJSONSchema(RoutinesFile, { io: "input", target: "draft-2020-12" }) };
}
