// The program that runs one command line in the sandbox: `node --input-type=module --eval
// "$(sandboxRunner(<srt module URL>))" <settings file> <srt's own directory> <directory to wrap from> <command>`. It does what srt's own command does,
// with one difference: srt's command requires a network section and then always cuts the network
// off, and `network: full` needs the filesystem rules alone. With a network section it starts srt's
// filtering proxy; without one it only wraps the command (bubblewrap, with its PID namespace and
// the filesystem rules). Kept as text, run by node itself, so that it works the same from the
// built server and from the sources (tests); it is short because srt does the work.
export const sandboxRunner = (srt: string) => `
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { SandboxManager, SandboxRuntimeConfigSchema, FilesystemConfigSchema } from ${JSON.stringify(srt)};
const [settingsFile, own, wrapFrom, command] = process.argv.slice(1);
// srt keeps commands from writing its "dangerous files" in the directory it starts in, and leaves
// empty stand-ins there for those that do not exist: it starts in the sandbox's own directory (see
// protectedPaths in sandbox.ts), and the command where it was started.
const cwd = process.cwd();
// srt keeps its files in its TMPDIR; the command keeps its own.
const commandTmp = process.env.TMPDIR;
process.env.TMPDIR = own;
try {
  process.chdir(wrapFrom);
  const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
  let wrapped;
  if (settings.network) {
    await SandboxManager.initialize(SandboxRuntimeConfigSchema.parse(settings));
    wrapped = await SandboxManager.wrapWithSandbox(command);
  } else {
    wrapped = await SandboxManager.wrapWithSandbox(command, undefined, { filesystem: FilesystemConfigSchema.parse(settings.filesystem) });
  }
  if (wrapped === command) throw new Error("sandbox-runtime did not wrap the command");
  const env = { ...process.env, TMPDIR: commandTmp };
  if (commandTmp === undefined) delete env.TMPDIR;
  const child = spawn(wrapped, { shell: true, stdio: "inherit", env, cwd });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => {
    console.error("sandbox: " + error.message);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    SandboxManager.cleanupAfterCommand();
    process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
  });
} catch (error) {
  console.error("sandbox: " + (error instanceof Error ? error.message : String(error)));
  process.exit(1);
}
`;
