import { configDefaults, defineConfig } from "vitest/config";

const tests = ["internal", "cmd", "test", "deploy", "scripts"].map((dir) => `${dir}/**/*.test.ts`);
const integrationTests = tests.map((pattern) => pattern.replace(/\.test\.ts$/, ".int.test.ts"));
const hostileTests = ["test/hostile/**/*.int.test.ts"];
const browserTests = ["test/console/**/*.int.test.ts"];

export default defineConfig({
  test: {
    // Integration tests start databases and servers; these bound a hang, they are not speed checks.
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    projects: [
      {
        // Only Node: no Redis, PostgreSQL, Kafka or outside tools (npm run test:unit).
        extends: true,
        test: { name: "unit", include: tests, exclude: [...configDefaults.exclude, ...integrationTests] },
      },
      {
        // Real services and tools, checked first by scripts/test-prerequisites.sh (npm test).
        extends: true,
        test: {
          name: "integration",
          include: integrationTests,
          exclude: [...configDefaults.exclude, ...hostileTests, ...browserTests],
          globalSetup: ["test/global-setup.ts"],
          setupFiles: ["test/kafkajs-fix.ts"],
        },
      },
      {
        // Attacks on one running service each, measuring its event-loop lag and memory: a group of
        // their own (vitest runs groups one after another) and one file at a time, so that other
        // tests' load is not mistaken for the service's.
        extends: true,
        test: {
          name: "hostile",
          include: hostileTests,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The operator console in a real Chromium: after the rest (a browser is heavy on two cores),
        // on the console's files built from the sources as they are now.
        extends: true,
        test: {
          name: "browser",
          include: browserTests,
          globalSetup: ["test/console/build-console.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
