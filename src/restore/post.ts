import * as path from "node:path";
import * as core from "@actions/core";
import { State } from "../constants.js";
import { removeRuleMainLeft } from "../post.js";
import { removeQuietly } from "../runner/files.js";
import { actionState } from "../runner/state.js";
import { hasLeftoverRule } from "../scalingo/rule-removal.js";
import { parseRestoreConfig } from "./config.js";

/**
 * The restore's safety net (`post-if: always()`): the private folder and the rule a killed or
 * failed main left behind. It never touches a rule main did not create.
 */
export async function runRestorePost(): Promise<void> {
  await removeFolder(actionState.get(State.restoreFolder));
  if (!hasLeftoverRule(actionState)) {
    core.info("No temporary firewall rule left to remove.");
    return;
  }
  await removeRuleMainLeft(() => parseRestoreConfig((name) => core.getInput(name), process.env, 1));
}

/** Only a folder of the action's own naming: saved state is trusted no further than that. */
async function removeFolder(folder: string): Promise<void> {
  if (!folder || !path.basename(folder).startsWith("scalingo-pg-dump-restore-")) return;
  await removeQuietly(folder);
  core.info("Removed the restore's private folder.");
}
