// What a routines file may ask of the repository and the server, when it is meant to run as
// written in any repository: nothing (no setup script, secret, connector, other repository, model
// name or sharing), and networks that need no operator's grant.
import { expect } from "vitest";

interface Loose {
  environments?: Record<string, Record<string, unknown>>;
  routines: Record<string, Record<string, unknown>>;
  share_with?: unknown;
}

export function assertRunsAnywhere(config: Loose, networks: Array<string | undefined> = ["none", "trusted", undefined]): void {
  expect(config.share_with).toBeUndefined();
  for (const [name, environment] of Object.entries(config.environments ?? {})) {
    expect({ name, setup: environment.setup, secrets: environment.secrets }).toEqual({ name, setup: undefined, secrets: undefined });
    expect(networks).toContain(environment.network);
  }
  for (const [name, routine] of Object.entries(config.routines)) {
    expect({ name, connectors: routine.connectors, repositories: routine.repositories ?? ["self"], model: routine.model }).toEqual({ name, connectors: undefined, repositories: ["self"], model: undefined });
  }
}
