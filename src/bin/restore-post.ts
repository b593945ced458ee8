import { runRestorePost } from "../restore/post.js";
import { failUnexpected } from "../runner/log.js";

process.on("unhandledRejection", (error) => {
  failUnexpected("post", error);
  process.exit(1);
});
await runRestorePost().catch((error) => failUnexpected("post", error));
