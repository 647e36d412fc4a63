// A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, the server on a
// loopback port, a fresh database per caller. As root the cluster runs as the `postgres` user,
// since PostgreSQL refuses to run as root. Without PostgreSQL on the machine the tests that need it
// are skipped, except in CI (CI=true), where its absence fails them (.ci/run installs it).
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** The directory of initdb/pg_ctl: POSTGRES_BIN, else initdb on PATH, else Debian's newest /usr/lib/postgresql/<version>/bin. */
function findBinaries(): string | undefined {
  const candidates: string[] = [];
  if (process.env.POSTGRES_BIN) candidates.push(process.env.POSTGRES_BIN);
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir) candidates.push(dir);
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => join("/usr/lib/postgresql", version, "bin")));
  }
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

export const POSTGRES_BIN = findBinaries();
export const hasPostgres = POSTGRES_BIN !== undefined;
if (!hasPostgres && process.env.CI) throw new Error("no PostgreSQL (initdb, pg_ctl): .ci/run installs Debian's postgresql package");

export interface TestPostgres {
  /** The server's address with no database: postgres://postgres@127.0.0.1:<port>. */
  readonly base: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const asRoot = userInfo().uid === 0;

/** Runs a PostgreSQL program as the user the cluster belongs to. */
function command(program: string, args: string[]): [string, string[]] {
  const path = join(POSTGRES_BIN!, program);
  return asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

let databases = 0;

export async function startPostgres(): Promise<TestPostgres> {
  if (!POSTGRES_BIN) throw new Error("PostgreSQL is not installed");
  const dir = mkdtempSync(join(tmpdir(), "routines-pg-"));
  const data = join(dir, "data");
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, id("-u"), id("-g"));
  }
  const [initdb, initArgs] = command("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"]);
  await run(initdb, initArgs);
  const port = await freePort();
  // Durability is not what these tests check: no fsync, so databases are made and filled fast.
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const [pgCtl, startArgs] = command("pg_ctl", ["start", "-w", "-t", "60", "-D", data, "-l", join(dir, "server.log"), "-o", options]);
  try {
    await run(pgCtl, startArgs);
  } catch (error) {
    const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8") : "";
    throw new Error(`the test PostgreSQL server did not start: ${String(error)}\n${log}`);
  }
  // A test process that dies without stopping it must not leave a server behind.
  const stopNow = () => {
    try {
      const [program, args] = command("pg_ctl", ["stop", "-m", "immediate", "-D", data]);
      execFileSync(program, args, { stdio: "ignore" });
    } catch {
      // Already stopped.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stopNow);
  const base = `postgres://postgres@127.0.0.1:${port}`;
  return {
    base,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: `${base}/postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name} STRATEGY FILE_COPY`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    async stop() {
      process.off("exit", stopNow);
      const [program, args] = command("pg_ctl", ["stop", "-m", "fast", "-w", "-D", data]);
      await run(program, args).catch(() => undefined);
      rmSync(dirname(data), { recursive: true, force: true });
    },
  };
}
