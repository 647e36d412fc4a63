// `routines disable <installation-id>` and `routines enable <installation-id>`: the kill switch.
import { CliError, type Io } from "./io.js";
import { withStore } from "./store.js";

export async function killSwitch(disable: boolean, installation: string | undefined, io: Io): Promise<number> {
  if (!installation || !/^\d+$/.test(installation)) {
    throw new CliError(`${disable ? "disable" : "enable"} needs an installation id (a number, as in the installation's settings URL)`, 2);
  }
  return withStore(io, async (store) => {
    await store.setInstallationDisabled(Number(installation), disable);
    io.out(
      disable
        ? `Disabled routines for installation ${installation}: its running and queued runs are cancelled, its schedules stay quiet and nothing new starts.\n`
        : `Enabled routines for installation ${installation}.\n`,
    );
    return 0;
  });
}
