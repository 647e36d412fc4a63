import { configDefaults, defineConfig } from "vitest/config";

// Timeouts fit what the tests do on a loaded 2-core machine: unit tests are quick, though many
// start processes (the CLI, the sandbox, a browser); the process-level suite and the attack suite
// start the built server and wait on real sessions, retries and restarts.
// Three files at once, whatever the cores: most of the time the process-level files wait on the
// servers they started, on timers and on the clock (vitest's default on two cores, one file at a
// time, took 17 minutes; three take 7).
export default defineConfig({
  test: {
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, "test/e2e/**", "test/attacks/**"], testTimeout: 30_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts", "test/attacks/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 },
      },
    ],
  },
});
