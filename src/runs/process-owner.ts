// How a process names itself in the claims and leases it holds in a shared store: its host and
// pid, for people reading the database, and a random part, since a restarted process may get
// the pid of one that died.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

export const processOwner = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
