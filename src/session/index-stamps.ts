// Git's index remembers each file's size, times, inode and owner, so that `git status` need not
// read files whose stat it already knows. A copied working tree keeps sizes and modification
// times (cp -a) but gets new inodes and change times, and git would read and hash every file once
// to learn that nothing changed (a tenth of a second per 40 MB, paid by the run's first `git
// status`). This writes the copy's own inode, change time and owner into the index instead, for
// entries whose size, mode and modification time (to the nanosecond) match the file: the same
// test git's `core.checkStat = minimal` trusts. Anything else is left for git to look at.
import { lstat, readFile, rename, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";

const HEADER = 12;
const CHECKSUM = 20;
const EXTENDED = 0x4000;
const BATCH = 128;

/** Updates the stat data in `<dir>/.git/index` for files that are unchanged; false when the index is of a version this does not read (4) or is not an index. */
export async function restampIndex(dir: string): Promise<boolean> {
  const path = join(dir, ".git", "index");
  const index = await readFile(path);
  if (index.length < HEADER + CHECKSUM || index.toString("latin1", 0, 4) !== "DIRC") return false;
  const version = index.readUInt32BE(4);
  if (version !== 2 && version !== 3) return false;
  const count = index.readUInt32BE(8);
  const entries: Array<{ offset: number; path: string }> = [];
  let offset = HEADER;
  for (let i = 0; i < count; i++) {
    const flags = index.readUInt16BE(offset + 60);
    const fixed = 62 + (version === 3 && flags & EXTENDED ? 2 : 0);
    const end = index.indexOf(0, offset + fixed);
    if (end < 0) return false;
    entries.push({ offset, path: index.toString("utf8", offset + fixed, end) });
    // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
    offset += Math.floor((end - offset) / 8) * 8 + 8;
  }
  const stamp = async ({ offset, path: file }: { offset: number; path: string }) => {
    const mode = index.readUInt32BE(offset + 24);
    // Regular files and links only; submodules (gitlinks) have no file of their own.
    if ((mode & 0o170000) !== 0o100000 && (mode & 0o170000) !== 0o120000) return false;
    const stats = await lstat(join(dir, file), { bigint: true }).catch(() => undefined);
    if (!stats) return false;
    const seconds = (ns: bigint) => Number((ns / 1_000_000_000n) & 0xffffffffn);
    const nanos = (ns: bigint) => Number(ns % 1_000_000_000n);
    const same =
      index.readUInt32BE(offset + 8) === seconds(stats.mtimeNs) &&
      index.readUInt32BE(offset + 12) === nanos(stats.mtimeNs) &&
      index.readUInt32BE(offset + 36) === Number(stats.size & 0xffffffffn) &&
      (stats.isSymbolicLink() ? (mode & 0o170000) === 0o120000 : stats.isFile() && (mode & 0o100) === (Number(stats.mode) & 0o100) && (mode & 0o170000) === 0o100000);
    if (!same) return false;
    index.writeUInt32BE(seconds(stats.ctimeNs), offset);
    index.writeUInt32BE(nanos(stats.ctimeNs), offset + 4);
    index.writeUInt32BE(Number(stats.dev & 0xffffffffn), offset + 16);
    index.writeUInt32BE(Number(stats.ino & 0xffffffffn), offset + 20);
    index.writeUInt32BE(Number(stats.uid & 0xffffffffn), offset + 28);
    index.writeUInt32BE(Number(stats.gid & 0xffffffffn), offset + 32);
    return true;
  };
  // A batch at a time, yielding between batches: thousands of answers at once would hold the
  // event loop for tens of milliseconds.
  let changed = false;
  for (let start = 0; start < entries.length; start += BATCH) {
    const stamped = await Promise.all(entries.slice(start, start + BATCH).map(stamp));
    changed ||= stamped.some(Boolean);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!changed) return true;
  createHash("sha1").update(index.subarray(0, index.length - CHECKSUM)).digest().copy(index, index.length - CHECKSUM);
  // A new file moved into place, as git writes its index: a reader never sees half of it.
  await writeFile(`${path}.lock`, index, { flag: "wx" });
  await rename(`${path}.lock`, path);
  return true;
}
