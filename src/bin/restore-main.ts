import { runRestoreMain } from "../restore/main.js";
import { failUnexpected } from "../runner/log.js";

process.on("unhandledRejection", (error) => {
  failUnexpected("main", error);
  process.exit(1);
});
await runRestoreMain().catch((error) => failUnexpected("main", error));
