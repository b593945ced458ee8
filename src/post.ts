import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { parseConfig } from "./config.js";
import { State } from "./constants.js";
import { errorMessage } from "./errors.js";
import { removeLeftoverServer } from "./restore-check/throwaway-server.js";
import { actionState } from "./runner/state.js";
import { ScalingoClient, type ScalingoOptions } from "./scalingo/client.js";
import { isDbApiForm } from "./scalingo/database-api.js";
import { hasLeftoverRule, removeLeftoverRule } from "./scalingo/rule-removal.js";

/**
 * The safety net (`post-if: always()`): removes the rule main added and could not remove because
 * it failed, was cancelled or was killed. It never touches a rule main did not create.
 */
export async function runPost(): Promise<void> {
  await removeRestoreServer();
  if (!hasLeftoverRule(actionState)) {
    core.info("No temporary firewall rule left to remove.");
    return;
  }
  await removeRuleMainLeft(() => parseConfig((name) => core.getInput(name), process.env, new Date(), availableParallelism()));
}

/** The rule main saved and did not remove, through the API form main used; the restore action's post uses it too. */
export async function removeRuleMainLeft(readConfig: () => Omit<ScalingoOptions, "onSecret">): Promise<void> {
  try {
    const config = readConfig();
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

/** The restore check's server, when main was killed before stopping it: stopped, its folder removed. */
async function removeRestoreServer(): Promise<void> {
  const saved = actionState.get(State.restoreServer);
  if (!saved) return;
  try {
    if (await removeLeftoverServer(JSON.parse(saved))) core.info("Stopped the restore check's server that the main step left running, and removed its folder.");
  } catch (error) {
    core.warning(`Could not stop the restore check's server left by the main step: ${errorMessage(error)}`);
  }
}
