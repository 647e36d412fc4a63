// Which part of the work this process takes, chosen by the command that starts it: `routines
// server` (and `npm start`, `node dist/server.js`) receives webhooks and serves the API and the
// dashboard, running sessions too unless ROUTINES_WORKERS=0; `routines worker` only runs sessions.
// Set before the server's module is loaded, which reads it once.
export type ProcessRole = "server" | "worker";

let role: ProcessRole = "server";

export const processRole = (): ProcessRole => role;

export function chooseRole(chosen: ProcessRole): void {
  role = chosen;
}
