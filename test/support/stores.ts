// The same tests against every store: `describeEachStore` declares a suite once on SQLite and once
// on PostgreSQL (a throwaway cluster it starts; skipped without PostgreSQL, except in CI).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import { PgStore } from "../../src/runs/pg-store.js";
import { SqliteStore } from "../../src/runs/sqlite-store.js";
import type { RunStore } from "../../src/runs/store.js";
import { hasPostgres, startPostgres, type TestPostgres } from "./postgres.js";

export interface Stores {
  /** A store on a new, empty place (a SQLite file, a PostgreSQL database); closed after the test. */
  fresh(): Promise<RunStore>;
  /**
   * A new, empty place; each call of the function it returns opens another store on it, as a
   * restarted or a second process would. Stores opened so are closed after the test too.
   */
  freshPlace(): Promise<() => Promise<RunStore>>;
}

function stores(newPlace: () => Promise<() => Promise<RunStore>>): Stores {
  const opened: RunStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close().catch(() => undefined)));
  });
  const freshPlace = async () => {
    const open = await newPlace();
    return async () => {
      const store = await open();
      opened.push(store);
      return store;
    };
  };
  return { freshPlace, fresh: async () => (await freshPlace())() };
}

export function describeEachStore(name: string, suite: (stores: Stores) => void): void {
  describe(`${name} (SQLite)`, () => {
    suite(
      stores(async () => {
        const file = join(await mkdtemp(join(tmpdir(), "routines-store-")), "routines.db");
        return async () => new SqliteStore(file);
      }),
    );
  });
  describe.skipIf(!hasPostgres)(`${name} (PostgreSQL)`, () => {
    let postgres: TestPostgres | undefined;
    beforeAll(async () => {
      postgres = await startPostgres();
    });
    afterAll(async () => {
      await postgres?.stop();
    });
    suite(
      stores(async () => {
        const url = await postgres!.createDatabase();
        return () => PgStore.open(url);
      }),
    );
  });
}
