import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    // Tests build their own settings; nothing leaks in from the developer's shell or .env.
    env: { ROUTINES_MIN_SCHEDULE_INTERVAL: "", LOG_LEVEL: "fatal" },
  },
});
