import { configDefaults, defineConfig } from "vitest/config";

// Timeouts fit what the tests do on a loaded 2-core machine: unit tests are quick, though many
// start processes (the CLI, the sandbox, a browser); the process-level suite and the attack suite
// start the built server and wait on real sessions, retries and restarts.
export default defineConfig({
  test: {
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
