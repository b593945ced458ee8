import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { deferLeftovers } from "./backup/leftovers.js";
import { parseConfig } from "./config.js";
import { State } from "./constants.js";
import { errorMessage } from "./errors.js";
import { actionPostDeps, inputsOf, type PostDeps } from "./runner/surroundings.js";
import { Teardown } from "./runner/teardown.js";
import { ScalingoClient, type ScalingoOptions } from "./scalingo/client.js";
import { isDbApiForm } from "./scalingo/database-api.js";
import { removeLeftoverFirewallRule } from "./scalingo/firewall-session.js";

const log = { info: core.info, warning: core.warning, debug: core.debug };

/**
 * The safety net (`post-if: always()`): undoes what main saved and did not undo because it failed,
 * was cancelled or was killed, in the teardown's order: a leftover pg_dump, the unfinished files,
 * the rule main added, the restore check's server. It never touches what main did not create.
 */
export async function runPost(deps: PostDeps = actionPostDeps()): Promise<void> {
  const teardown = new Teardown((what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`));
  deferLeftovers(teardown, deps.state, log);
  teardown.defer("rule", "remove the firewall rule", () =>
    removeRuleMainLeft(() => parseConfig(inputsOf(deps), deps.env, new Date(), availableParallelism()), deps),
  );
  await teardown.run();
}

/**
 * The rule main saved and did not remove, through the API form main used; the restore action's
 * post uses it too. A failure fails the step, saying to remove the rule by hand: post is the last chance.
 */
export async function removeRuleMainLeft(readConfig: () => Omit<ScalingoOptions, "onSecret">, deps: Pick<PostDeps, "state" | "newClient">): Promise<void> {
  try {
    await removeLeftoverFirewallRule({ connect: () => connect(readConfig(), deps), state: deps.state, log });
  } catch (error) {
    core.setFailed(
      `Could not remove the temporary firewall rule: ${errorMessage(error)}. Remove it by hand now (Scalingo dashboard, or \`scalingo --database <id> database-firewall-rules\`): it allowlists this runner's IP.`,
    );
  }
}

/** The client, in the database-API form main's rules answered in; built only when there is a rule to remove. */
async function connect(config: Omit<ScalingoOptions, "onSecret">, deps: Pick<PostDeps, "state" | "newClient">): Promise<ScalingoClient> {
  core.setSecret(config.apiToken);
  const saved = deps.state.get(State.firewallApi);
  const options = { ...config, onSecret: core.setSecret, debug: core.debug, forms: isDbApiForm(saved) ? { firewall_rules: saved } : {} };
  const client = (deps.newClient ?? ((o) => new ScalingoClient(o)))(options);
  await client.connect();
  return client;
}
