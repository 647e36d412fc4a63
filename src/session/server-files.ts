// The server's own files, which no command may read: denied in the sandbox wherever they are, on
// top of the sandbox's default (everything outside the system directories is denied already), so
// that they stay hidden also when they lie inside a system directory (a server in /usr/src/app, a
// key in /etc). Paths are absolute (a relative PRIVATE_KEY_PATH is the server's working directory's,
// not the command's) and, where they are links, given as the link and as its target.
import { readdir, realpath } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

export interface ServerFileOptions {
  /** The server's working directory: its `.env`, and the `*.pem` Probot finds there by itself. */
  cwd: string;
  dataDir: string;
  /** PRIVATE_KEY_PATH as given, relative to `cwd` or absolute. */
  privateKeyPath?: string;
  connectorsFile?: string;
  /** Files that hold the model route's credentials (GOOGLE_APPLICATION_CREDENTIALS, AWS_SHARED_CREDENTIALS_FILE, …). */
  credentialFiles?: string[];
  /** The server user's HOME; default: both the HOME variable's and the account's. */
  homes?: string[];
}

function accountHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}

export async function serverFiles(options: ServerFileOptions): Promise<string[]> {
  const cwd = resolve(options.cwd);
  // Named one by one besides the directory: should the directory be the root or a system
  // directory, which the sandbox reads back, these files stay hidden all the same.
  const inCwd = (await readdir(cwd).catch(() => [] as string[])).filter((name) => name === ".env" || name.endsWith(".pem")).map((name) => join(cwd, name));
  const homes = options.homes ?? [homedir(), accountHome()];
  const paths = [
    cwd,
    ...inCwd,
    resolve(cwd, options.dataDir),
    ...(options.privateKeyPath ? [isAbsolute(options.privateKeyPath) ? options.privateKeyPath : resolve(cwd, options.privateKeyPath)] : []),
    ...(options.connectorsFile ? [resolve(cwd, options.connectorsFile)] : []),
    ...(options.credentialFiles ?? []).map((file) => resolve(cwd, file)),
    ...homes.filter((home): home is string => Boolean(home) && home !== "/").map((home) => resolve(home)),
  ];
  const targets = await Promise.all(paths.map((path) => realpath(path).catch(() => path)));
  return [...new Set([...paths, ...targets])];
}
