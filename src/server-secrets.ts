// What the server holds that nothing it runs may see or show: the app's private key, the webhook
// secret, the OAuth client secret, the model route's credentials (the Claude API key, AWS secret
// keys and session tokens, Google access tokens and service account keys), the dashboard's
// session secret and the operator's secret values. They are collected once for the redactor, and then removed from the
// process's environment, so that no child process inherits them and /proc/<pid>/environ does not
// show them; the code that needs them has its own copy by then (Probot, settings, the model client).
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { SECRET_PREFIX } from "./config/secret-grants.js";

/** Variables whose values are the server's own secrets; the model routes' among them (session/model-client.ts), and DATABASE_URL, which holds the database's password. */
const SECRET_VARIABLES = new Set([
  "PRIVATE_KEY",
  "WEBHOOK_SECRET",
  "GITHUB_CLIENT_SECRET",
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "ROUTINES_SESSION_SECRET",
  "GITHUB_TOKEN",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_BEARER_TOKEN_BEDROCK",
  "GOOGLE_OAUTH_ACCESS_TOKEN",
  "DATABASE_URL",
]);

export const isSecretVariable = (name: string) => SECRET_VARIABLES.has(name) || name.startsWith(SECRET_PREFIX);

/** A PEM key and each line of its body, so that part of a key is recognised too. */
function pemParts(pem: string): string[] {
  const lines = pem
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("-----"));
  return [pem, ...lines];
}

/** The private key's text in every form the server may have it: as set (base64, `\n`-escaped), decoded, and from its file. */
function privateKeyForms(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const forms: string[] = [];
  const value = env.PRIVATE_KEY;
  if (value) {
    forms.push(value);
    const decoded = Buffer.from(value, "base64").toString("base64") === value ? Buffer.from(value, "base64").toString("utf8") : value;
    forms.push(...pemParts(decoded.replace(/\\n/g, "\n")));
  }
  // The file Probot reads: PRIVATE_KEY_PATH, or the .pem files it looks for in the working directory.
  const files = env.PRIVATE_KEY_PATH ? [resolve(cwd, env.PRIVATE_KEY_PATH)] : value ? [] : safeList(cwd).filter((name) => name.endsWith(".pem")).map((name) => join(cwd, name));
  for (const file of files) {
    const text = safeRead(file);
    if (text) forms.push(...pemParts(text));
  }
  return forms;
}

/** DATABASE_URL's password as written and decoded, so that it is redacted where it shows alone. */
function databasePassword(env: NodeJS.ProcessEnv): string[] {
  const url = env.DATABASE_URL;
  if (!url || !URL.canParse(url)) return [];
  const { password } = new URL(url);
  if (!password) return [];
  try {
    return [password, decodeURIComponent(password)];
  } catch {
    return [password];
  }
}

const safeList = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};
const safeRead = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

/** The secret fields of a Google credentials file (GOOGLE_APPLICATION_CREDENTIALS): a service account's key, a user's refresh token and client secret. */
function googleCredentialForms(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const file = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  const text = file ? safeRead(resolve(cwd, file)) : undefined;
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!parsed || typeof parsed !== "object") return [];
  const fields = parsed as Record<string, unknown>;
  const value = (name: string) => (typeof fields[name] === "string" && fields[name] ? [fields[name] as string] : []);
  return [...value("private_key").flatMap(pemParts), ...value("private_key_id"), ...value("client_secret"), ...value("refresh_token")];
}

/** The variables a connectors file reads with `${NAME}`: the operator's credentials for them. */
export const referencedVariables = (text: string) => [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!))];

/** Every secret value the server holds, for the redactor; `also` names more variables that hold secrets. */
export function heldSecrets(env: NodeJS.ProcessEnv, { sessionSecret, cwd = process.cwd(), also = [] }: { sessionSecret?: string; cwd?: string; also?: readonly string[] } = {}): string[] {
  const values = Object.entries(env).flatMap(([name, value]) => (value && (isSecretVariable(name) || also.includes(name)) && !name.endsWith("_REPOSITORIES") ? [value] : []));
  return [...new Set([...values, ...(sessionSecret ? [sessionSecret] : []), ...privateKeyForms(env, cwd), ...googleCredentialForms(env, cwd), ...databasePassword(env)])];
}

/**
 * Removes the server's secrets, and the variables named in `also`, from `env` (the process's
 * environment by default), and, on Linux, overwrites them in the environment the process was
 * started with, which /proc/<pid>/environ shows to anything running as the same user. Returns the
 * names removed.
 */
export function scrubEnvironment(env: NodeJS.ProcessEnv = process.env, also: readonly string[] = []): string[] {
  const secret = (name: string) => isSecretVariable(name) || also.includes(name);
  const names = Object.keys(env).filter(secret);
  for (const name of names) delete env[name];
  if (env === process.env) eraseFromStartingEnvironment(secret);
  return names;
}

/**
 * The environment a process started with stays in its memory, where /proc/<pid>/environ reads
 * it, even after the variables are unset. Once they are (no pointer of libc's environment refers
 * to those strings any more), the secret entries are overwritten with zeros through
 * /proc/self/mem. Best effort: where /proc is missing, nothing happens.
 */
function eraseFromStartingEnvironment(secret: (name: string) => boolean): void {
  let fd: number | undefined;
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name, which may contain spaces; env_start and env_end are fields 50 and 51.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[47]);
    const end = Number(fields[48]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return;
    fd = openSync("/proc/self/mem", "r+");
    const block = Buffer.alloc(end - start);
    readSync(fd, block, 0, block.length, start);
    let offset = 0;
    while (offset < block.length) {
      const next = block.indexOf(0, offset);
      const stop = next === -1 ? block.length : next;
      const entry = block.toString("utf8", offset, stop);
      const equals = entry.indexOf("=");
      if (equals > 0 && secret(entry.slice(0, equals))) writeSync(fd, Buffer.alloc(stop - offset), 0, stop - offset, start + offset);
      offset = stop + 1;
    }
  } catch {
    // No /proc, or no access to it: the variables are unset all the same.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
