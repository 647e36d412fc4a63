// Which route a model client takes, and the settings an error on that route should name: a
// refused key on Bedrock is not fixed by checking ANTHROPIC_API_KEY.
import type { ModelProvider } from "../config/model-names.js";

export interface RouteWords {
  /** Who answered, for error messages. */
  api: string;
  /** What it refused: "the key", "the credentials". */
  refused: string;
  /** The settings to check when it refuses them. */
  check: string;
  /** What must be allowed to use a model. */
  holder: string;
  /** The settings that say where the route's endpoint is. */
  endpoint: string;
}

const AWS_CREDENTIALS = "the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY with AWS_SESSION_TOKEN, AWS_PROFILE, or AWS_BEARER_TOKEN_BEDROCK)";
const GOOGLE_CREDENTIALS = "the Google credentials (GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, or the application default credentials)";

export const ROUTE_WORDS: Record<ModelProvider, RouteWords> = {
  anthropic: { api: "the model API", refused: "the key", check: "ANTHROPIC_API_KEY", holder: "the key", endpoint: "ANTHROPIC_BASE_URL" },
  bedrock: { api: "Amazon Bedrock", refused: "the credentials", check: AWS_CREDENTIALS, holder: AWS_CREDENTIALS, endpoint: "AWS_REGION and ANTHROPIC_BEDROCK_BASE_URL" },
  vertex: { api: "Google Vertex AI", refused: "the credentials", check: GOOGLE_CREDENTIALS, holder: GOOGLE_CREDENTIALS, endpoint: "CLOUD_ML_REGION, ANTHROPIC_VERTEX_PROJECT_ID and ANTHROPIC_VERTEX_BASE_URL" },
};

// The clients are the SDK's own classes; the route each was built for is noted beside them.
const routes = new WeakMap<object, ModelProvider>();

export function noteRoute(client: object, provider: ModelProvider): void {
  routes.set(client, provider);
}

/** The route a client was built for; a client made elsewhere (tests, compatible servers) is the Claude API's. */
export const routeOf = (client: object): ModelProvider => routes.get(client) ?? "anthropic";
