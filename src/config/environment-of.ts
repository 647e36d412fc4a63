// The environment a routine runs in: the one it names, else the one named default, else none
// (network: trusted, no variables).
import type { Environment, Routine } from "./schema.js";

export function environmentOf(routine: Routine, environments: Record<string, Environment>): Environment | undefined {
  const name = routine.environment ?? ("default" in environments ? "default" : undefined);
  return name === undefined ? undefined : environments[name];
}

/** The secrets a run of the routine needs from the server; none for runs that get no secrets. */
export function requiredSecrets(routine: Routine | undefined, environments: Record<string, Environment>, withoutSecrets: boolean): string[] {
  if (!routine || withoutSecrets) return [];
  return environmentOf(routine, environments)?.secrets ?? [];
}

/** The routine's own daily dollar budget, for admission to check (the operator's default applies when it has none). */
export function dailyBudgetOf(routine: Routine | undefined): { dailyBudgetUsd?: number } {
  const daily = routine?.budget?.daily_usd;
  return daily === undefined ? {} : { dailyBudgetUsd: daily };
}

/** The routine's word on its status comment, for the run request to carry: only a "no" is worth carrying. */
export function statusCommentOf(routine: Routine | undefined): { statusComment?: false } {
  return routine?.status_comment === false ? { statusComment: false } : {};
}
