import { errorMessage } from "../errors.js";
import type { ScalingoClient } from "../scalingo/client.js";
import { type OpenRule, sweepAndOpen } from "../scalingo/firewall.js";
import { closeRule, whoRemovesLeftover } from "../scalingo/rule-removal.js";
import type { Log, StateStore } from "../types.js";
import type { RestoreConfig } from "./config.js";
import type { RestoreRun } from "./run-report.js";

// The restore's view of the firewall: open (stale sweep, /32 rule, state for post) and close
// (once, as soon as the work that needs it ends). The one seam to swap for a shared firewall
// session unit; the backup's own rule code does the work.

export async function openFirewall(
  client: ScalingoClient,
  config: Pick<RestoreConfig, "staleRuleAgeMs" | "ruleLabel" | "repository" | "run">,
  run: RestoreRun,
  o: { ip: string; state: StateStore; log: Log },
): Promise<OpenRule> {
  const rule = await sweepAndOpen(client, config, { ...o, now: new Date() });
  Object.assign(run, { ruleId: rule.id, ruleCreated: rule.created, ruleAddedAt: new Date() });
  if (rule.created) o.log.info(`Added firewall rule ${rule.cidr} ("${rule.label}"). Scalingo applies it in about two minutes.`);
  return rule;
}

/** Removes the rule this run created, once; a failure is a warning that says who removes it. */
export async function closeFirewall(client: ScalingoClient, rule: OpenRule, run: RestoreRun, o: { state: StateStore; log: Log }): Promise<void> {
  try {
    await closeRule(client, rule, o.state, o.log);
    if (rule.created) run.ruleRemovedAt ??= new Date();
  } catch (error) {
    o.log.warning(`Could not remove the firewall rule now (${errorMessage(error)}); ${whoRemovesLeftover(o.state)}`);
  }
}
