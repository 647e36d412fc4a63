// Whether a process of this machine is alive, for files that name their owner by pid (run
// directories, lock files): a pid that no process has any more leaves them to be taken over.

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
