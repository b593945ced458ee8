import { hashAheadInWorker, hashAheadOf } from "../restore/hash-ahead.js";

// This file is also the hashing thread's script: that thread hashes the dump and loads nothing else.
if (!(await hashAheadInWorker())) {
  // The dump's sha256 starts first, on its own thread, while the rest of the action loads (hash-ahead.ts).
  const ahead = hashAheadOf(process.env.INPUT_PATH, process.env, new URL(import.meta.url));
  const { runRestoreMain, failUnexpected } = await import("../restore/entry.js");
  process.on("unhandledRejection", (error) => {
    failUnexpected("main", error);
    process.exit(1);
  });
  await runRestoreMain(undefined, ahead).catch((error) => failUnexpected("main", error));
}
