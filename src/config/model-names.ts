// Model names per model route. Routines name models as the Claude API does (claude-sonnet-4-5,
// claude-sonnet-4-5-20250929); Amazon Bedrock and Google Vertex AI name the same models their own
// way (anthropic.claude-sonnet-4-5-20250929-v1:0, claude-sonnet-4-5@20250929). A name is
// translated for the route, passed as it is when it is already the route's own id, or refused
// with the names known here and how to pass a raw id.

export const MODEL_PROVIDERS = ["anthropic", "bedrock", "vertex"] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** Bedrock's cross-region inference profiles: a prefix before the model id. */
export const INFERENCE_PROFILES = ["global", "us", "eu", "jp", "apac", "au"] as const;
export type InferenceProfile = (typeof INFERENCE_PROFILES)[number];

export const PROVIDER_NAMES: Record<ModelProvider, string> = { anthropic: "the Claude API", bedrock: "Amazon Bedrock", vertex: "Google Vertex AI" };

interface KnownModel {
  /** The Claude API's name (its alias, or the id itself for models without one). */
  name: string;
  /** The Claude API's dated id, for models that have one. */
  dated?: string;
  bedrock: string;
  vertex: string;
}

/** The models whose ids on each platform Anthropic's model overview lists; newest first. */
const KNOWN: readonly KnownModel[] = [
  { name: "claude-opus-4-7", bedrock: "anthropic.claude-opus-4-7", vertex: "claude-opus-4-7" },
  { name: "claude-sonnet-4-6", bedrock: "anthropic.claude-sonnet-4-6", vertex: "claude-sonnet-4-6" },
  { name: "claude-opus-4-6", bedrock: "anthropic.claude-opus-4-6-v1", vertex: "claude-opus-4-6" },
  { name: "claude-opus-4-5", dated: "claude-opus-4-5-20251101", bedrock: "anthropic.claude-opus-4-5-20251101-v1:0", vertex: "claude-opus-4-5@20251101" },
  { name: "claude-haiku-4-5", dated: "claude-haiku-4-5-20251001", bedrock: "anthropic.claude-haiku-4-5-20251001-v1:0", vertex: "claude-haiku-4-5@20251001" },
  { name: "claude-sonnet-4-5", dated: "claude-sonnet-4-5-20250929", bedrock: "anthropic.claude-sonnet-4-5-20250929-v1:0", vertex: "claude-sonnet-4-5@20250929" },
  { name: "claude-opus-4-1", dated: "claude-opus-4-1-20250805", bedrock: "anthropic.claude-opus-4-1-20250805-v1:0", vertex: "claude-opus-4-1@20250805" },
  { name: "claude-opus-4", dated: "claude-opus-4-20250514", bedrock: "anthropic.claude-opus-4-20250514-v1:0", vertex: "claude-opus-4@20250514" },
  { name: "claude-sonnet-4", dated: "claude-sonnet-4-20250514", bedrock: "anthropic.claude-sonnet-4-20250514-v1:0", vertex: "claude-sonnet-4@20250514" },
];

/** The names a routine may use on every route: the Claude API's names of the known models. */
export const KNOWN_MODEL_NAMES: readonly string[] = KNOWN.map((model) => model.name);

export class ModelNameError extends Error {
  override name = "ModelNameError";
}

export interface ModelNaming {
  /** Bedrock only: the inference profile whose prefix goes before translated ids (us.anthropic.…). */
  inferenceProfile?: InferenceProfile;
}

/**
 * From Claude 4.6 on, model ids have no date: the Claude API's `claude-<name>-<major>[-<minor>]` is
 * `anthropic.claude-<name>-<major>[-<minor>]` on Bedrock and the same on Vertex AI, so such a name
 * translates without a table (a model newer than this file). Older models carry a date and are
 * only translated from the table.
 */
function undatedId(name: string): boolean {
  const match = /^claude-[a-z]+-(\d+)(?:-(\d+))?$/.exec(name);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2] ?? 0)];
  return major > 4 || (major === 4 && minor >= 6);
}

const bedrockPrefix = new RegExp(`^(?:(?:${INFERENCE_PROFILES.join("|")})\\.)?anthropic\\.`);

/** Already Bedrock's own: a model id, an inference profile's id, or an ARN (provisioned throughput, application inference profiles). */
const isBedrockId = (name: string) => bedrockPrefix.test(name) || name.startsWith("arn:");

/** Already Vertex AI's own: a dated id (claude-sonnet-4-5@20250929). */
const isVertexId = (name: string) => /^[a-z0-9.-]+@[0-9a-z.-]+$/.test(name);

/** The id that `provider` serves the model `name` under; throws a ModelNameError for a name it cannot place. */
export function modelIdFor(provider: ModelProvider, name: string, naming: ModelNaming = {}): string {
  // The Claude API and the servers compatible with it take every name as it is.
  if (provider === "anthropic") return name;
  const known = KNOWN.find((model) => model.name === name || model.dated === name);
  if (provider === "bedrock") {
    if (isBedrockId(name)) return name;
    const id = known?.bedrock ?? (undatedId(name) ? `anthropic.${name}` : undefined);
    if (id) return naming.inferenceProfile ? `${naming.inferenceProfile}.${id}` : id;
  } else {
    if (isVertexId(name)) return name;
    const id = known?.vertex ?? (undatedId(name) ? name : undefined);
    if (id) return id;
  }
  throw new ModelNameError(unknownModel(provider, name));
}

function unknownModel(provider: ModelProvider, name: string): string {
  const raw =
    provider === "bedrock"
      ? "a Bedrock model id (anthropic.…, us.anthropic.…) or an inference profile's ARN (arn:aws:bedrock:…) is passed as it is"
      : "a Vertex AI model id with its version (claude-…@YYYYMMDD) is passed as it is";
  return `the model ${JSON.stringify(name)} is not known on ${PROVIDER_NAMES[provider]}; known: ${KNOWN_MODEL_NAMES.join(", ")}, and claude-<name>-<major>[-<minor>] from 4.6 on; ${raw}`;
}

/**
 * The Claude API's name of a model from a route's id, for what is keyed by model (prices): the
 * routine's own name where it is one, else the known model the id stands for.
 */
export function claudeModelName(id: string): string {
  const bare = id.replace(bedrockPrefix, "");
  const known = KNOWN.find((model) => model.name === id || model.dated === id || model.vertex === id || model.bedrock === `anthropic.${bare}`);
  if (known) return known.name;
  return bare.replace(/-v\d+(?::\d+)?$/, "").replace(/@(\d{8})$/, "-$1");
}
