import { runPost } from "../post.js";
import { failUnexpected } from "../runner/log.js";

process.on("unhandledRejection", (error) => {
  failUnexpected("post", error);
  process.exit(1);
});
await runPost().catch((error) => failUnexpected("post", error));
