import * as path from "node:path";
import * as core from "@actions/core";
import { State } from "../constants.js";
import { errorMessage } from "../errors.js";
import { removeRuleMainLeft } from "../post.js";
import { exists, removeQuietly } from "../runner/files.js";
import { savedProcess, stopRecorded } from "../runner/process-record.js";
import { actionPostDeps, inputsOf, type PostDeps } from "../runner/surroundings.js";
import { Teardown } from "../runner/teardown.js";
import { parseRestoreConfig } from "./config.js";

/**
 * The restore's safety net (`post-if: always()`): what a killed or failed main saved and did not
 * undo, in the teardown's order: a pg_restore still running (writers), the private folder
 * (plaintext), then the rule. It never touches a rule main did not create.
 */
export async function runRestorePost(deps: PostDeps = actionPostDeps()): Promise<void> {
  const teardown = new Teardown((what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`));
  const writer = savedProcess(deps.state.get(State.pgRestore));
  if (writer) {
    teardown.defer("writers", "stop the pg_restore the main step left running", async () => {
      if (await stopRecorded(writer)) core.info("Stopped the pg_restore that the main step left running.");
    });
  }
  const folder = deps.state.get(State.restoreFolder);
  if (isOwnFolder(folder)) {
    teardown.defer("plaintext", "remove the restore's private folder", async () => {
      // Said only when there was one: main removes it on every path it lives through.
      if (!(await exists(folder))) return;
      await removeQuietly(folder);
      core.info("Removed the restore's private folder that the main step left.");
    });
  }
  teardown.defer("rule", "remove the firewall rule", () => removeRuleMainLeft(() => parseRestoreConfig(inputsOf(deps), deps.env, 1), deps));
  await teardown.run();
}

/** Only a folder of the action's own naming: saved state is trusted no further than that. */
function isOwnFolder(folder: string): boolean {
  return Boolean(folder) && path.basename(folder).startsWith("scalingo-pg-dump-restore-");
}
