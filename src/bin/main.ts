import { run } from "../main.js";
import { failUnexpected } from "../runner/log.js";

// Stray rejections included: the step fails with one clear message, never a bare stack trace.
process.on("unhandledRejection", (error) => {
  failUnexpected("main", error);
  process.exit(1);
});
await run().catch((error) => failUnexpected("main", error));
