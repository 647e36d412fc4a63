import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callModel, DEFAULT_RETRY, ModelCallError, type ModelParams } from "../../src/session/model-call.js";
import { createModelClient, credentialFiles, credentialsProblem, routeCredentials } from "../../src/session/model-client.js";
import { MODEL_KEY, startFakeModel, type FakeModel, type FakeWire } from "../support/fake-model.js";

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const AWS = { accessKeyId: "AKIAROUTESTEST000001", secretAccessKey: "route-test-secret/key+value", sessionToken: "route-test-session-token", region: "eu-west-3" };
const GOOGLE = { accessToken: "ya29.route-test-access-token", project: "acme-models", region: "us-east5" };

const said = { content: [{ type: "text" as const, text: "Hello from the platform." }] };
const params = (model: string): ModelParams => ({ model, max_tokens: 64, messages: [{ role: "user", content: "Say hello." }] });
const call = (client: Awaited<ReturnType<typeof createModelClient>>, model: string) =>
  callModel(client, params(model), { signal: new AbortController().signal, retry: { ...DEFAULT_RETRY, budgetMs: 0 }, onRetry: async () => undefined });

async function fake(wire: FakeWire) {
  model = await startFakeModel([said, said], { wire });
  return model;
}

describe("the Claude API route", () => {
  it("sends the key to ANTHROPIC_BASE_URL with the model as named", async () => {
    const fakeModel = await startFakeModel([said]);
    model = fakeModel;
    const client = await createModelClient({ provider: "anthropic" }, routeCredentials("anthropic", { ANTHROPIC_API_KEY: MODEL_KEY, ANTHROPIC_BASE_URL: fakeModel.url }));
    const message = await call(client, "claude-test");
    expect(message.content).toEqual(said.content);
    expect(fakeModel.requests[0]).toMatchObject({ url: "/v1/messages", body: { model: "claude-test", stream: true } });
  });
});

describe("the Amazon Bedrock route", () => {
  const credentials = (url: string, extra: Record<string, string> = {}) =>
    routeCredentials("bedrock", {
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
      AWS_SESSION_TOKEN: AWS.sessionToken,
      AWS_REGION: AWS.region,
      ANTHROPIC_BEDROCK_BASE_URL: url,
      // Neither reaches Bedrock.
      ANTHROPIC_API_KEY: MODEL_KEY,
      ...extra,
    });

  it("streams from InvokeModelWithResponseStream, signed with the AWS keys, the model translated to Bedrock's id", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS });
    const client = await createModelClient({ provider: "bedrock" }, credentials(bedrock.url));
    const message = await call(client, "claude-haiku-4-5");
    expect(message.content).toEqual(said.content);
    expect(message.model).toBe("anthropic.claude-haiku-4-5-20251001-v1:0");
    const [request] = bedrock.requests;
    expect(request!.refused).toBeUndefined();
    expect(decodeURIComponent(request!.url!)).toBe("/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream");
    expect(request!.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS.accessKeyId}/\\d{8}/eu-west-3/bedrock/aws4_request, SignedHeaders=`));
    expect(request!.headers["x-amz-security-token"]).toBe(AWS.sessionToken);
    expect(request!.headers["x-api-key"]).toBeUndefined();
    expect(request!.body).toMatchObject({ anthropic_version: "bedrock-2023-05-31", max_tokens: 64, messages: [{ role: "user", content: "Say hello." }] });
    expect(request!.body).not.toHaveProperty("model");
    expect(request!.body).not.toHaveProperty("stream");
  });

  it("takes the inference profile's prefix, and passes Bedrock's own ids as they are", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS });
    await call(await createModelClient({ provider: "bedrock", inferenceProfile: "eu" }, credentials(bedrock.url)), "claude-sonnet-4-6");
    await call(await createModelClient({ provider: "bedrock", inferenceProfile: "eu" }, credentials(bedrock.url)), "global.anthropic.claude-opus-4-5-20251101-v1:0");
    expect(bedrock.requests.map((request) => decodeURIComponent(request.url!))).toEqual([
      "/model/eu.anthropic.claude-sonnet-4-6/invoke-with-response-stream",
      "/model/global.anthropic.claude-opus-4-5-20251101-v1:0/invoke-with-response-stream",
    ]);
  });

  it("names the AWS credentials when Bedrock refuses the signature", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS, secretAccessKey: "another-secret" });
    const client = await createModelClient({ provider: "bedrock" }, credentials(bedrock.url));
    const error = await call(client, "claude-haiku-4-5").catch((error: unknown) => error);
    expect(bedrock.requests[0]!.refused).toBe("the signature does not match the expected secret key");
    expect(error).toBeInstanceOf(ModelCallError);
    expect((error as Error).message).toMatch(/^Amazon Bedrock denied access \(403 the signature does not match the expected secret key\): check that the AWS credentials \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it("refuses a name it cannot place before anything is sent, listing the known ones", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS });
    const client = await createModelClient({ provider: "bedrock" }, credentials(bedrock.url));
    const error = await call(client, "gpt-5").catch((error: unknown) => error);
    expect(error).toBeInstanceOf(ModelCallError);
    expect((error as Error).message).toMatch(/^the model "gpt-5" is not known on Amazon Bedrock; known: claude-opus-4-7, claude-sonnet-4-6, .* \(the routine's model, or ROUTINES_MODEL\)$/);
    expect((error as Error).message).toContain("arn:aws:bedrock:");
    expect(bedrock.requests).toEqual([]);
  });

  it("calls InvokeModel without streaming, and Vertex AI's rawPredict", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS });
    const message = await (await createModelClient({ provider: "bedrock" }, credentials(bedrock.url))).messages.create(params("claude-opus-4-7"));
    expect(message.content).toEqual(said.content);
    expect(bedrock.requests[0]).toMatchObject({ url: "/model/anthropic.claude-opus-4-7/invoke", body: { anthropic_version: "bedrock-2023-05-31" } });
    expect(bedrock.requests[0]!.refused).toBeUndefined();
    const vertex = await startFakeModel([said], { wire: { kind: "vertex", ...GOOGLE } });
    try {
      const client = await createModelClient(
        { provider: "vertex" },
        routeCredentials("vertex", { GOOGLE_OAUTH_ACCESS_TOKEN: GOOGLE.accessToken, CLOUD_ML_REGION: GOOGLE.region, ANTHROPIC_VERTEX_PROJECT_ID: GOOGLE.project, ANTHROPIC_VERTEX_BASE_URL: `${vertex.url}/v1` }),
      );
      expect((await client.messages.create(params("claude-opus-4-7"))).content).toEqual(said.content);
      expect(vertex.requests[0]!.url).toBe(`/v1/projects/${GOOGLE.project}/locations/${GOOGLE.region}/publishers/anthropic/models/claude-opus-4-7:rawPredict`);
    } finally {
      await vertex.close();
    }
  });

  it("signs with a Bedrock API key as a bearer token instead, when one is set", async () => {
    const bedrock = await fake({ kind: "bedrock", ...AWS });
    const client = await createModelClient({ provider: "bedrock" }, routeCredentials("bedrock", { AWS_BEARER_TOKEN_BEDROCK: "bedrock-api-key", AWS_REGION: AWS.region, ANTHROPIC_BEDROCK_BASE_URL: bedrock.url }));
    await call(client, "claude-haiku-4-5").catch(() => undefined);
    expect(bedrock.requests[0]!.headers.authorization).toBe("Bearer bedrock-api-key");
  });
});

describe("the Google Vertex AI route", () => {
  const credentials = (url: string) =>
    routeCredentials("vertex", { GOOGLE_OAUTH_ACCESS_TOKEN: GOOGLE.accessToken, CLOUD_ML_REGION: GOOGLE.region, ANTHROPIC_VERTEX_PROJECT_ID: GOOGLE.project, ANTHROPIC_VERTEX_BASE_URL: `${url}/v1`, ANTHROPIC_API_KEY: MODEL_KEY });

  it("streams from streamRawPredict with the access token, the model translated to Vertex AI's id", async () => {
    const vertex = await fake({ kind: "vertex", ...GOOGLE });
    const client = await createModelClient({ provider: "vertex" }, credentials(vertex.url));
    const message = await call(client, "claude-haiku-4-5");
    expect(message.content).toEqual(said.content);
    const [request] = vertex.requests;
    expect(request!.refused).toBeUndefined();
    expect(decodeURIComponent(request!.url!)).toBe("/v1/projects/acme-models/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict");
    expect(request!.headers.authorization).toBe(`Bearer ${GOOGLE.accessToken}`);
    expect(request!.headers["x-api-key"]).toBeUndefined();
    expect(request!.body).toMatchObject({ anthropic_version: "vertex-2023-10-16", stream: true, max_tokens: 64 });
    expect(request!.body).not.toHaveProperty("model");
  });

  it("signs with Google's application default credentials from the key file when no token is set", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    const email = "routines@acme-models.iam.gserviceaccount.com";
    const dir = await mkdtemp(join(tmpdir(), "routines-adc-"));
    const keyFile = join(dir, "service-account.json");
    // Outside Google's default universe a service account signs its own JWTs: no token endpoint to reach.
    await writeFile(keyFile, JSON.stringify({ type: "service_account", project_id: GOOGLE.project, private_key_id: "key-1", private_key: privateKey, client_email: email, client_id: "1", token_uri: "https://oauth2.googleapis.com/token", universe_domain: "routines.test" }));
    const vertex = await fake({ kind: "vertex", ...GOOGLE, serviceAccount: { email, publicKey } });
    const client = await createModelClient({ provider: "vertex" }, routeCredentials("vertex", { GOOGLE_APPLICATION_CREDENTIALS: keyFile, CLOUD_ML_REGION: GOOGLE.region, ANTHROPIC_VERTEX_BASE_URL: `${vertex.url}/v1` }));
    expect((await call(client, "claude-opus-4-7")).content).toEqual(said.content);
    const [request] = vertex.requests;
    expect(request!.refused).toBeUndefined();
    // The project comes from the key file.
    expect(request!.url).toBe(`/v1/projects/${GOOGLE.project}/locations/${GOOGLE.region}/publishers/anthropic/models/claude-opus-4-7:streamRawPredict`);
    // Another key's JWT is refused.
    const other = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
    const refusing = await startFakeModel([said], { wire: { kind: "vertex", ...GOOGLE, serviceAccount: { email, publicKey: other.publicKey } } });
    try {
      const refusedClient = await createModelClient({ provider: "vertex" }, routeCredentials("vertex", { GOOGLE_APPLICATION_CREDENTIALS: keyFile, CLOUD_ML_REGION: GOOGLE.region, ANTHROPIC_VERTEX_BASE_URL: `${refusing.url}/v1` }));
      await expect(call(refusedClient, "claude-opus-4-7")).rejects.toThrow("Google Vertex AI refused the credentials (401 the JWT is not signed by the service account's key)");
    } finally {
      await refusing.close();
    }
  });

  it("passes Vertex AI's own ids and new undated names as they are", async () => {
    const vertex = await fake({ kind: "vertex", ...GOOGLE });
    await call(await createModelClient({ provider: "vertex" }, credentials(vertex.url)), "claude-opus-4-1@20250805");
    await call(await createModelClient({ provider: "vertex" }, credentials(vertex.url)), "claude-opus-5");
    expect(vertex.requests.map((request) => /models\/([^/:]+):/.exec(decodeURIComponent(request.url!))?.[1])).toEqual(["claude-opus-4-1@20250805", "claude-opus-5"]);
  });

  it("names the Google credentials when Vertex AI refuses the token", async () => {
    const vertex = await fake({ kind: "vertex", ...GOOGLE, accessToken: "ya29.another" });
    const error = await call(await createModelClient({ provider: "vertex" }, credentials(vertex.url)), "claude-haiku-4-5").catch((error: unknown) => error);
    expect((error as Error).message).toMatch(/^Google Vertex AI refused the credentials \(401 expected the bearer token, got another authorization\): check the Google credentials \(GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN/);
  });

  it("names the route's endpoint settings when the model is not found there", async () => {
    const vertex = await fake({ kind: "vertex", ...GOOGLE, project: "another-project" });
    const error = await call(await createModelClient({ provider: "vertex" }, credentials(vertex.url)), "claude-opus-4-7").catch((error: unknown) => error);
    expect((error as Error).message).toMatch(
      /^Google Vertex AI does not know the model claude-opus-4-7 \(404 .*\): check the routine's model or ROUTINES_MODEL, and CLOUD_ML_REGION, ANTHROPIC_VERTEX_PROJECT_ID and ANTHROPIC_VERTEX_BASE_URL$/,
    );
  });
});

describe("credentialsProblem", () => {
  const nowhere = "/nonexistent-home";
  it("holds runs back only where nothing can be found", () => {
    expect(credentialsProblem("anthropic", routeCredentials("anthropic", {}), nowhere)).toEqual({
      blocking: true,
      missing: "set ANTHROPIC_API_KEY to the model key",
      message: "ANTHROPIC_API_KEY is not set: runs are recorded and wait in the queue until it is",
    });
    expect(credentialsProblem("anthropic", routeCredentials("anthropic", { ANTHROPIC_AUTH_TOKEN: "t" }), nowhere)).toBeUndefined();
    expect(credentialsProblem("bedrock", routeCredentials("bedrock", { AWS_ACCESS_KEY_ID: "AKIA" }), nowhere)).toEqual({
      blocking: true,
      missing: "AWS_SECRET_ACCESS_KEY is not set: Amazon Bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together",
      message: "AWS_SECRET_ACCESS_KEY is not set: Amazon Bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together; runs are recorded and wait in the queue until both are",
    });
    expect(credentialsProblem("bedrock", routeCredentials("bedrock", {}), nowhere)).toMatchObject({ blocking: false, message: expect.stringContaining("no AWS credentials are set") });
    expect(credentialsProblem("bedrock", routeCredentials("bedrock", { AWS_PROFILE: "models" }), nowhere)).toBeUndefined();
    expect(credentialsProblem("vertex", routeCredentials("vertex", { GOOGLE_OAUTH_ACCESS_TOKEN: "ya29" }), nowhere)).toMatchObject({ blocking: true, message: expect.stringContaining("CLOUD_ML_REGION is not set") });
    expect(credentialsProblem("vertex", routeCredentials("vertex", { CLOUD_ML_REGION: "global" }), nowhere)).toMatchObject({ blocking: false, message: expect.stringContaining("no Google credentials are set") });
    expect(credentialsProblem("vertex", routeCredentials("vertex", { CLOUD_ML_REGION: "global", GOOGLE_APPLICATION_CREDENTIALS: "/etc/adc.json" }), nowhere)).toBeUndefined();
  });

  it("finds credentials files in the server user's home", async () => {
    const home = await mkdtemp(join(tmpdir(), "routines-home-"));
    await mkdir(join(home, ".aws"));
    await writeFile(join(home, ".aws", "credentials"), "[default]\n");
    expect(credentialsProblem("bedrock", routeCredentials("bedrock", {}), home)).toBeUndefined();
  });

  it("lists the files that hold credentials, to hide from commands", () => {
    expect(credentialFiles(routeCredentials("vertex", { GOOGLE_APPLICATION_CREDENTIALS: "/etc/gcp/adc.json" }))).toEqual(["/etc/gcp/adc.json"]);
    expect(credentialFiles(routeCredentials("bedrock", { AWS_SHARED_CREDENTIALS_FILE: "/etc/aws/credentials", AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/token" }))).toEqual(["/etc/aws/credentials", "/var/run/token"]);
  });
});
