import * as path from "node:path";
import * as core from "@actions/core";
import { State } from "../constants.js";
import { errorMessage } from "../errors.js";
import { removeQuietly } from "../runner/files.js";
import { actionState } from "../runner/state.js";
import { ScalingoClient } from "../scalingo/client.js";
import { isDbApiForm } from "../scalingo/database-api.js";
import { hasLeftoverRule, removeLeftoverRule } from "../scalingo/rule-removal.js";
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
  try {
    const config = parseRestoreConfig((name) => core.getInput(name), process.env, 1);
    core.setSecret(config.apiToken);
    const saved = actionState.get(State.firewallApi);
    const client = new ScalingoClient({ ...config, onSecret: core.setSecret, debug: core.debug, forms: isDbApiForm(saved) ? { firewall_rules: saved } : {} });
    await client.connect();
    await removeLeftoverRule(client, actionState, { info: core.info, warning: core.warning });
  } catch (error) {
    core.setFailed(
      `Could not remove the temporary firewall rule: ${errorMessage(error)}. Remove it by hand now (Scalingo dashboard, or \`scalingo --database <id> database-firewall-rules\`): it allowlists this runner's IP.`,
    );
  }
}

/** Only a folder of the action's own naming: saved state is trusted no further than that. */
async function removeFolder(folder: string): Promise<void> {
  if (!folder || !path.basename(folder).startsWith("scalingo-pg-dump-restore-")) return;
  await removeQuietly(folder);
  core.info("Removed the restore's private folder.");
}
