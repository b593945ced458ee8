import { defineConfig } from "vitest/config";

// The unit tests of the modules `npm run test:mutation` mutates (stryker.config.mjs): Stryker runs
// them once per mutant, so no end-to-end test (they run the bundle, which holds no mutant) and no
// test of another module is in the list.
export default defineConfig({
  test: {
    include: [
      "test/firewall.test.ts",
      "test/firewall-session.test.ts",
      "test/rule-lifecycle.test.ts",
      "test/pg-dump-options.test.ts",
      "test/pg-dump-reserved.test.ts",
      "test/tls.test.ts",
      "test/files.test.ts",
      "test/visibility.test.ts",
      "test/row-counts.test.ts",
      "test/row-counts-snapshot.test.ts",
    ],
    // One PostgreSQL of each kind for the whole run, instead of one per test file and mutant
    // (test/support/postgres-shared.ts): starting servers cost more than the tests. The files
    // take turns on it, as Stryker runs them (one worker per vitest instance).
    globalSetup: ["test/support/postgres-shared-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
  },
});
