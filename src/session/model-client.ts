// The model client for the operator's route: the Claude API (or a server compatible with it),
// Amazon Bedrock or Google Vertex AI, each through Anthropic's own SDK for it, with that platform's
// usual credentials. The credentials are read from the environment once (routeCredentials) and
// given to the SDK explicitly, which never reads them from the environment itself: the server
// removes its secrets from its environment once it has started.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import Anthropic, { type Middleware } from "@anthropic-ai/sdk";
import { modelIdFor, PROVIDER_NAMES, type InferenceProfile, type ModelProvider } from "../config/model-names.js";
import { noteRoute } from "./model-route.js";

export interface ModelRoute {
  provider: ModelProvider;
  /** Bedrock only: the cross-region inference profile whose prefix goes before model ids. */
  inferenceProfile?: InferenceProfile;
}

/** The variables each route reads; those in SECRET_VARIABLES (server-secrets.ts) are secrets. */
export const ROUTE_VARIABLES: Record<ModelProvider, readonly string[]> = {
  anthropic: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"],
  bedrock: [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "ANTHROPIC_BEDROCK_BASE_URL",
  ],
  vertex: ["GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "ANTHROPIC_VERTEX_BASE_URL"],
};

/** The route's variables as they are when the server starts. */
export type RouteCredentials = Readonly<Record<string, string | undefined>>;

export function routeCredentials(provider: ModelProvider, env: NodeJS.ProcessEnv = process.env): RouteCredentials {
  return Object.fromEntries(ROUTE_VARIABLES[provider].map((name) => [name, env[name]?.trim() || undefined]));
}

/** Files that hold cloud credentials, from a route's credentials or the whole environment: hidden from commands like the server's other files. */
export function credentialFiles(credentials: RouteCredentials): string[] {
  return ["GOOGLE_APPLICATION_CREDENTIALS", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE"].flatMap((name) => (credentials[name] ? [credentials[name]!] : []));
}

/** What a route lacks: `blocking` when runs cannot go at all (they wait in the queue), with `missing` saying what to set. */
export type CredentialsProblem = { blocking: true; message: string; missing: string } | { blocking: false; message: string };

const blocked = (missing: string, until = "it is"): CredentialsProblem => ({ blocking: true, missing, message: `${missing}; runs are recorded and wait in the queue until ${until}` });

/**
 * What a route lacks, in words naming what to set; undefined when nothing is missing. Bedrock and
 * Vertex AI may find credentials where this cannot look (an instance's or a container's role, the
 * metadata server): for them, missing credentials warn without holding runs back.
 */
export function credentialsProblem(provider: ModelProvider, credentials: RouteCredentials, home: string = homedir()): CredentialsProblem | undefined {
  const has = (name: string) => Boolean(credentials[name]);
  switch (provider) {
    case "anthropic":
      return has("ANTHROPIC_API_KEY") || has("ANTHROPIC_AUTH_TOKEN")
        ? undefined
        : { blocking: true, missing: "set ANTHROPIC_API_KEY to the model key", message: "ANTHROPIC_API_KEY is not set: runs are recorded and wait in the queue until it is" };
    case "bedrock": {
      if (has("AWS_ACCESS_KEY_ID") !== has("AWS_SECRET_ACCESS_KEY")) {
        return blocked(`${has("AWS_ACCESS_KEY_ID") ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"} is not set: Amazon Bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together`, "both are");
      }
      const found =
        ["AWS_ACCESS_KEY_ID", "AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_SHARED_CREDENTIALS_FILE"].some(has) ||
        existsSync(join(home, ".aws", "credentials")) ||
        existsSync(join(home, ".aws", "config"));
      return found
        ? undefined
        : { blocking: false, message: "ROUTINES_MODEL_PROVIDER=bedrock, and no AWS credentials are set (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_BEARER_TOKEN_BEDROCK): runs use the instance's role if it has one, and error otherwise" };
    }
    case "vertex": {
      if (!has("CLOUD_ML_REGION")) return blocked("CLOUD_ML_REGION is not set: Google Vertex AI needs the region of its endpoint (e.g. us-east5, or global)");
      const found = has("GOOGLE_OAUTH_ACCESS_TOKEN") || has("GOOGLE_APPLICATION_CREDENTIALS") || existsSync(join(home, ".config", "gcloud", "application_default_credentials.json"));
      return found
        ? undefined
        : { blocking: false, message: "ROUTINES_MODEL_PROVIDER=vertex, and no Google credentials are set (GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, or gcloud's application default credentials): runs use the metadata server's account if there is one, and error otherwise" };
    }
  }
}

/** The API versions Bedrock and Vertex AI take in the body; the SDK would send the Claude API's own, which their InvokeModel and rawPredict refuse. */
const PLATFORM_VERSIONS = { bedrock: "bedrock-2023-05-31", vertex: "vertex-2023-10-16" } as const;

/**
 * The client for the route. The loop retries by itself (maxRetries 0). Bedrock's and Vertex AI's
 * clients are the SDK's classes for them, typed here as the Claude API's client: they share its
 * base class and its Messages API, and lack only what the loop never calls (batches, token counts, models).
 */
export async function createModelClient(route: ModelRoute, credentials: RouteCredentials): Promise<Anthropic> {
  const value = (name: string) => credentials[name];
  let client: Anthropic;
  switch (route.provider) {
    case "anthropic":
      client = new Anthropic({
        apiKey: value("ANTHROPIC_API_KEY") ?? null,
        authToken: value("ANTHROPIC_AUTH_TOKEN") ?? null,
        ...(value("ANTHROPIC_BASE_URL") ? { baseURL: value("ANTHROPIC_BASE_URL")! } : {}),
        maxRetries: 0,
      });
      break;
    case "bedrock": {
      const { AnthropicBedrock } = await import("@anthropic-ai/bedrock-sdk");
      const accessKey = value("AWS_ACCESS_KEY_ID");
      const secretKey = value("AWS_SECRET_ACCESS_KEY");
      const region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1";
      const common = {
        awsRegion: region,
        baseURL: value("ANTHROPIC_BEDROCK_BASE_URL") ?? `https://bedrock-runtime.${region}.amazonaws.com`,
        // null, not undefined: the SDK would read AWS_BEARER_TOKEN_BEDROCK from the environment, which the server has scrubbed.
        apiKey: value("AWS_BEARER_TOKEN_BEDROCK") ?? null,
        defaultHeaders: { "anthropic-version": PLATFORM_VERSIONS.bedrock },
        middleware: [modelNaming(route)],
        maxRetries: 0,
      };
      // Static keys when both are set; otherwise the AWS chain: profile, web identity, container or instance role.
      const bedrock =
        accessKey && secretKey
          ? new AnthropicBedrock({ ...common, awsAccessKey: accessKey, awsSecretKey: secretKey, awsSessionToken: value("AWS_SESSION_TOKEN") ?? null })
          : new AnthropicBedrock(common);
      client = bedrock as unknown as Anthropic;
      break;
    }
    case "vertex": {
      const { AnthropicVertex } = await import("@anthropic-ai/vertex-sdk");
      const region = value("CLOUD_ML_REGION");
      if (!region) throw new Error("CLOUD_ML_REGION is not set: Google Vertex AI needs the region of its endpoint (e.g. us-east5, or global)");
      const token = value("GOOGLE_OAUTH_ACCESS_TOKEN");
      const vertex = new AnthropicVertex({
        region,
        projectId: value("ANTHROPIC_VERTEX_PROJECT_ID") ?? null,
        ...(value("ANTHROPIC_VERTEX_BASE_URL") ? { baseURL: value("ANTHROPIC_VERTEX_BASE_URL")! } : {}),
        // An access token as it is; otherwise Google's application default credentials, from the key file when one is named.
        ...(token ? { authClient: await accessTokenClient(token) } : value("GOOGLE_APPLICATION_CREDENTIALS") ? { googleAuth: await keyFileAuth(value("GOOGLE_APPLICATION_CREDENTIALS")!) } : {}),
        defaultHeaders: { "anthropic-version": PLATFORM_VERSIONS.vertex },
        middleware: [modelNaming(route)],
        maxRetries: 0,
      });
      client = vertex as unknown as Anthropic;
      break;
    }
  }
  noteRoute(client, route.provider);
  return client;
}

// google-auth-library comes with @anthropic-ai/vertex-sdk, which takes its clients.

/** Google's OAuth client holding only the given access token: it sends it as it is and never refreshes it. */
async function accessTokenClient(token: string) {
  const { OAuth2Client } = await import("google-auth-library");
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token });
  return client;
}

/** Application default credentials from the key file named when the server started (service account, user, external account). */
async function keyFileAuth(keyFilename: string) {
  const { GoogleAuth } = await import("google-auth-library");
  return new GoogleAuth({ keyFilename, scopes: "https://www.googleapis.com/auth/cloud-platform" });
}

/**
 * Translates the model of every Messages request to the route's id, before the SDK moves it into
 * the URL and signs the request. An unknown name fails the call with the known names (not retried).
 */
function modelNaming(route: ModelRoute): Middleware {
  return async (request, next) => {
    if (typeof request.body !== "string") return next(request);
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return next(request);
    }
    if (!body || typeof body !== "object" || typeof (body as { model?: unknown }).model !== "string") return next(request);
    const model = (body as { model: string }).model;
    const id = modelIdFor(route.provider, model, route.inferenceProfile ? { inferenceProfile: route.inferenceProfile } : {});
    return next(id === model ? request : { ...request, body: JSON.stringify({ ...body, model: id }) });
  };
}

export const describeRoute = (route: ModelRoute) => `${PROVIDER_NAMES[route.provider]}${route.inferenceProfile ? ` (inference profile ${route.inferenceProfile})` : ""}`;
