// The signals a process uses: through PostgreSQL when DATABASE_URL names one (the processes that
// share it hear each other), else within the process, which owns its SQLite database alone.
import { PgSignals } from "./pg-signals.js";
import { LocalSignals, type Signals } from "./signals.js";

export async function openSignals({ databaseUrl }: { databaseUrl?: string }, onError: (error: unknown) => void): Promise<Signals> {
  return databaseUrl ? PgSignals.open(databaseUrl, { onError }) : new LocalSignals(onError);
}
