// After a failed test run: a short digest of each failed process-level case's diagnostics
// (test/artifacts/e2e, written by keepDiagnostics), printed last so that it is in the part of
// CI's output that is kept: the server's warnings and errors, its last lines, and the last
// requests the fake GitHub served.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

const dir = join(import.meta.dirname, "..", "test", "artifacts", "e2e");
const files = await readdir(dir).catch(() => []);
const cut = (line, n = 220) => (line.length > n ? `${line.slice(0, n)}…` : line);

function summarise(line) {
  try {
    const entry = JSON.parse(line);
    const error = entry.err?.message ?? entry.error ?? "";
    return cut(`${entry.level} ${entry.msg ?? ""}${error ? ` — ${error}` : ""}${entry.runId ? ` [run ${entry.runId}]` : ""}`);
  } catch {
    return cut(line);
  }
}

for (const file of files.slice(0, 3)) {
  const text = await readFile(join(dir, file), "utf8");
  const sections = text.split(/^=== /m).filter(Boolean);
  console.log(`\n##### ${file}`);
  for (const section of sections) {
    const [title, ...lines] = section.split("\n").filter(Boolean);
    if (title.startsWith("server")) {
      const notable = lines.filter((line) => /"level":(40|50|60)/.test(line) || !line.startsWith("{"));
      console.log(`== ${title}: ${lines.length} lines, warnings and errors (last 15):`);
      for (const line of notable.slice(-15)) console.log(summarise(line));
      const told = lines.filter((line) => !/"level":(10|20)\b/.test(line) && !line.includes("/healthz"));
      console.log(`== ${title}: last 12 lines at info or above`);
      for (const line of told.slice(-12)) console.log(summarise(line));
    } else {
      const last = title.startsWith("model") ? 3 : 10;
      console.log(`== ${title}: ${lines.length} lines, last ${last}`);
      for (const line of lines.slice(-last)) console.log(cut(line));
    }
  }
}
