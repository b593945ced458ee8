// `npm run test:mutation` (docs/development.md): the modules where a bug opens the database or
// leaks data, mutated one change at a time, against their unit tests only (vitest.mutation.config.ts).
// It runs in its own workflow (.github/workflows/mutation.yml), not in `npm test`: a full run takes
// long. The score must stay at 80% or more (`thresholds.break`).

// Never as root: a mutant runs the modules' real code, and a mutant of prepareDumpDir's loop in
// src/runner/files.ts (its stop at the first folder it created removed) makes every ancestor
// 0700, up to `/` and `/tmp`. As an unprivileged user (GitHub's runners, a developer's account)
// that chmod is refused; as root it changes the machine. It happened once on the development
// machine, which runs as root.
if (process.getuid?.() === 0) {
  throw new Error(
    "npm run test:mutation refuses to run as root: mutants run the modules' real file-system code (a mutant of src/runner/files.ts would chmod / to 0700). Run it as an unprivileged user, e.g. `setpriv --reuid=nobody --regid=nogroup --clear-groups npm run test:mutation` from a checkout that user can write, or in the Mutation testing workflow.",
  );
}

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", pool: "forks" },
  mutate: [
    // The firewall rule's life: a bug here leaves the database open to the runner's address.
    "src/scalingo/firewall.ts",
    "src/scalingo/firewall-session.ts",
    "src/scalingo/rule-removal.ts",
    "src/scalingo/rule-label.ts",
    // What reaches pg_dump (a reserved option sends the password elsewhere) and how TLS is verified.
    "src/postgres/pg-dump-options.ts",
    "src/postgres/tls.ts",
    // Private files, the public-repository check, and the counts the restore is compared with.
    "src/runner/files.ts",
    "src/visibility.ts",
    "src/restore-check/row-counts.ts",
  ],
  coverageAnalysis: "perTest",
  // Two cores: two test processes at most (CLI: --concurrency 1 on a busy machine).
  concurrency: 2,
  timeoutMS: 20_000,
  // `npm run test:mutation -- --incremental` runs again only the mutants whose code or tests changed
  // (handy while adding tests to one module); CI runs them all: a reused result may be stale when
  // a new test covers an old survivor.
  incrementalFile: "reports/mutation/stryker-incremental.json",
  ignorePatterns: ["dist", "docs", ".tmp", "reports", "coverage", "test/bench", "test/e2e"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 80, break: 80 },
};
