import { describe, expect, it } from "vitest";
import { claudeModelName, KNOWN_MODEL_NAMES, ModelNameError, modelIdFor } from "../../src/config/model-names.js";

describe("modelIdFor", () => {
  it.each([
    ["claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929"],
    ["claude-sonnet-4-5-20250929", "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929"],
    ["claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5@20251001"],
    ["claude-opus-4-5-20251101", "anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5@20251101"],
    ["claude-opus-4-1", "anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1@20250805"],
    ["claude-sonnet-4", "anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4@20250514"],
    ["claude-opus-4-6", "anthropic.claude-opus-4-6-v1", "claude-opus-4-6"],
    ["claude-sonnet-4-6", "anthropic.claude-sonnet-4-6", "claude-sonnet-4-6"],
    ["claude-opus-4-7", "anthropic.claude-opus-4-7", "claude-opus-4-7"],
    // Newer than the table: undated ids follow one rule on both platforms.
    ["claude-sonnet-5-5", "anthropic.claude-sonnet-5-5", "claude-sonnet-5-5"],
    ["claude-opus-5", "anthropic.claude-opus-5", "claude-opus-5"],
  ])("translates %s for Bedrock and Vertex AI", (name, bedrock, vertex) => {
    expect(modelIdFor("bedrock", name)).toBe(bedrock);
    expect(modelIdFor("vertex", name)).toBe(vertex);
    expect(modelIdFor("anthropic", name)).toBe(name);
  });

  it("puts the inference profile before translated ids only", () => {
    expect(modelIdFor("bedrock", "claude-haiku-4-5", { inferenceProfile: "us" })).toBe("us.anthropic.claude-haiku-4-5-20251001-v1:0");
    expect(modelIdFor("bedrock", "claude-opus-5", { inferenceProfile: "global" })).toBe("global.anthropic.claude-opus-5");
    expect(modelIdFor("bedrock", "anthropic.claude-haiku-4-5-20251001-v1:0", { inferenceProfile: "us" })).toBe("anthropic.claude-haiku-4-5-20251001-v1:0");
  });

  it.each([
    ["bedrock", "anthropic.claude-3-haiku-20240307-v1:0"],
    ["bedrock", "eu.anthropic.claude-sonnet-4-20250514-v1:0"],
    ["bedrock", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"],
    ["vertex", "claude-3-5-haiku@20241022"],
    ["anthropic", "anything-a-compatible-server-serves"],
  ] as const)("passes the route's own ids as they are: %s %s", (provider, id) => {
    expect(modelIdFor(provider, id)).toBe(id);
  });

  it.each([
    ["bedrock", "sonnet"],
    ["bedrock", "claude-3-5-sonnet"],
    ["bedrock", "claude-sonnet-4-5@20250929"],
    ["vertex", "anthropic.claude-sonnet-4-6"],
    ["vertex", "claude-sonnet-4-2"],
  ] as const)("refuses %s %s, listing the known names and how to pass a raw id", (provider, name) => {
    const attempt = () => modelIdFor(provider, name);
    expect(attempt).toThrow(ModelNameError);
    expect(attempt).toThrow(`the model ${JSON.stringify(name)} is not known on ${provider === "bedrock" ? "Amazon Bedrock" : "Google Vertex AI"}; known: ${KNOWN_MODEL_NAMES.join(", ")}`);
    expect(attempt).toThrow(provider === "bedrock" ? "is passed as it is" : "claude-…@YYYYMMDD");
  });
});

describe("claudeModelName", () => {
  it.each([
    ["claude-sonnet-4-5", "claude-sonnet-4-5"],
    ["anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"],
    ["us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"],
    ["claude-opus-4-1@20250805", "claude-opus-4-1"],
    ["global.anthropic.claude-opus-5", "claude-opus-5"],
    ["claude-3-5-haiku@20241022", "claude-3-5-haiku-20241022"],
  ])("names %s as the Claude API does: %s", (id, name) => {
    expect(claudeModelName(id)).toBe(name);
  });
});
