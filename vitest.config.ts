import { defineConfig } from "vitest/config";

// Two projects: `unit` (modules, emulators, real PostgreSQL where a module needs one) and `e2e`
// (the bundled actions run as the runner runs them, and the check that dist/ is fresh; the e2e
// project first checks dist/ against a fresh build and stops at once when it is stale).
// `npm run test:unit` and `npm run test:e2e` run one each; `npm test` runs both.
const E2E = ["test/e2e/**/*.test.ts", "test/dist.test.ts"];

export default defineConfig({
  test: {
    // End-to-end files start their own PostgreSQL and emulators; two cores, two workers.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: E2E } },
      { extends: true, test: { name: "e2e", include: E2E, globalSetup: ["test/support/fresh-dist.ts"] } },
    ],
  },
});
