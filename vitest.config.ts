import { defineConfig } from "vitest/config";

// Timeouts fit what the tests do on a loaded 2-core machine: unit tests are quick, but many
// start processes (the CLI, the sandbox, a browser, the built server).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
