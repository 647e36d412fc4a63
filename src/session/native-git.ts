// Native git as a child process, for the server's own repositories (the workspace cache and a
// working tree before the run's commands touch it): never on the server's thread, and with the
// token only in the child's environment. Command lines are readable by every process on the
// machine (/proc/<pid>/cmdline), environments only by their owner, so the token goes as an
// `http.<origin>/.extraHeader` set through GIT_CONFIG_* variables: not in argv, not in the URL,
// not in any file, and sent only to the repository's own host.
import { execFile } from "node:child_process";

export class GitCommandError extends Error {
  override name = "GitCommandError";
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly stdout = "",
  ) {
    super(`git ${args[0] ?? ""} failed${exitCode === undefined ? "" : ` (exit ${exitCode})`}: ${stderr.trim().split("\n").at(-1) ?? ""}`);
  }
}

export interface GitOptions {
  /** The directory git runs in. */
  cwd: string;
  /** For commands that reach the remote: its URL (for the header's scope) and the token. */
  auth?: { url: string; token: string };
  /** Text for the command's standard input. */
  input?: string;
  /**
   * For a working tree whose .git the run's commands could write: git runs with the server's own
   * git directory, reads no system or global config, and is told to run no hook or monitor (see
   * native-commit.ts); `identity` is the author and committer of commits it makes.
   */
  isolated?: { gitDir: string; workTree: string; identity?: { name: string; email: string } };
}

/** What of the server's environment a git child sees: where programs and the operator's git settings are, and the network's proxies. */
const PASSED = ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];

/** The environment for a git child: no prompt, no credential helper, and the token (when given) as a header for its host only. */
export function gitEnvironment(auth?: GitOptions["auth"], isolated?: GitOptions["isolated"]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    GIT_TERMINAL_PROMPT: "0",
    // A transfer slower than 1 KB/s for a minute is given up, rather than holding the repository's cache.
    GIT_HTTP_LOW_SPEED_LIMIT: "1000",
    GIT_HTTP_LOW_SPEED_TIME: "60",
  };
  for (const name of PASSED) if (process.env[name] !== undefined) env[name] = process.env[name];
  const config: Array<[string, string]> = [
    // An empty helper list: no helper of the operator's offers or stores anything for these requests.
    ["credential.helper", ""],
  ];
  if (isolated) {
    Object.assign(env, {
      GIT_DIR: isolated.gitDir,
      GIT_WORK_TREE: isolated.workTree,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_ATTR_NOSYSTEM: "1",
      GIT_NO_REPLACE_OBJECTS: "1",
      GIT_OPTIONAL_LOCKS: "0",
      // git's own words, in English, for the server to read.
      LANG: "C",
      LC_ALL: "C",
      ...(isolated.identity
        ? { GIT_AUTHOR_NAME: isolated.identity.name, GIT_AUTHOR_EMAIL: isolated.identity.email, GIT_COMMITTER_NAME: isolated.identity.name, GIT_COMMITTER_EMAIL: isolated.identity.email }
        : {}),
    });
    // HOME would lead git to ~/.gitconfig and ~/.config/git/attributes: none of the operator's settings here.
    delete env.HOME;
    // The server's own config already says so; given again, above any config file.
    config.push(["core.hooksPath", "/dev/null"], ["core.fsmonitor", "false"], ["commit.gpgSign", "false"], ["core.attributesFile", "/dev/null"]);
  }
  if (auth) {
    const basic = Buffer.from(`x-access-token:${auth.token}`).toString("base64");
    config.push([`http.${new URL(auth.url).origin}/.extraHeader`, `Authorization: Basic ${basic}`]);
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** Runs git with `args` and resolves with its standard output; a failure rejects with a GitCommandError carrying git's own words. */
export function git(args: readonly string[], { cwd, auth, input, isolated }: GitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd, env: gitEnvironment(auth, isolated), maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = typeof error.code === "number" ? error.code : undefined;
      reject(new GitCommandError(args, code, stderr || error.message, stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Whether git exits 0 (yes) or 1 (no); anything else rejects. For questions such as `merge-base --is-ancestor`. */
export async function gitAnswers(args: readonly string[], options: GitOptions): Promise<boolean> {
  try {
    await git(args, options);
    return true;
  } catch (error) {
    if (error instanceof GitCommandError && error.exitCode === 1) return false;
    throw error;
  }
}
