// How much disk a directory tree takes, measured by du in a process of its own: a run's tree can
// hold a hundred thousand files, too many to walk in the server's event loop every few seconds.
import { execFile } from "node:child_process";

/** Bytes of disk that `path` takes (blocks in use, each hard-linked file once, one filesystem). */
export function diskUsage(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // du exits 1 when files vanish while it counts, as they do in a running build: its total still holds.
    execFile("du", ["-skx", path], { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      const kib = /^(\d+)\s/m.exec(stdout)?.[1];
      if (kib !== undefined) resolve(Number(kib) * 1024);
      else reject(new Error(`du could not measure ${path}: ${(stderr || error?.message || "no output").trim()}`));
    });
  });
}
