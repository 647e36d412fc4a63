// The environment a routine runs in: the one it names, else the one named default, else none
// (network: trusted, no variables).
import type { RunRequest } from "../run-request.js";
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

/**
 * What a run request carries of its routine, for admission and for those who publish the run's
 * state: the secrets its environment needs (none without secrets), its own daily dollar budget (the
 * operator's default applies when it has none), and its word on the status comment (only a "no" is
 * worth carrying).
 */
export function routineFacts(
  routine: Routine | undefined,
  environments: Record<string, Environment>,
  withoutSecrets: boolean,
): Pick<RunRequest["context"], "requiredSecrets" | "dailyBudgetUsd" | "statusComment"> {
  const daily = routine?.budget?.daily_usd;
  return {
    requiredSecrets: requiredSecrets(routine, environments, withoutSecrets),
    ...(daily === undefined ? {} : { dailyBudgetUsd: daily }),
    ...(routine?.status_comment === false ? { statusComment: false } : {}),
  };
}
