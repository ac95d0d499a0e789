import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["internal/**/*.test.ts", "cmd/**/*.test.ts", "test/**/*.test.ts", "deploy/**/*.test.ts"],
    // Integration tests start databases and servers; these bound a hang, they are not speed checks.
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/kafkajs-fix.ts"],
  },
});
