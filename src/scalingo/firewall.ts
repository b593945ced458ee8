import { State } from "../constants.js";
import { ActionError, errorMessage, ScalingoApiError } from "../errors.js";
import type { Log, StateStore } from "../types.js";
import type { FirewallRule, ScalingoClient } from "./client.js";
import { backoffMs, type Clock, DEFAULT_RETRY, isTransient, realClock } from "./http.js";
import { ownLabelCreatedAtMs, timedLabel } from "./rule-label.js";

/** The rule this job relies on; `created` says whether it is this job's to remove. */
export interface OpenRule {
  id: string;
  cidr: string;
  label?: string;
  created: boolean;
}

type Rules = Pick<ScalingoClient, "listRules" | "addRule" | "removeRule">;

/**
 * Rules this repository's earlier runs created and left behind, older than `maxAgeMs`. Users'
 * rules, custom labels and other repositories' rules never match: another repository's jobs may
 * still be running, and only GitHub's job time limit tells a dead job from a live one.
 */
export function staleRules(rules: FirewallRule[], o: { nowMs: number; maxAgeMs: number; ownBase: string; repository: string }): FirewallRule[] {
  if (o.maxAgeMs <= 0) return [];
  return rules.filter((rule) => {
    const createdAtMs = rule.type === "custom_range" && rule.label ? ownLabelCreatedAtMs(rule.label, o.repository, o.ownBase) : undefined;
    return createdAtMs !== undefined && o.nowMs - createdAtMs > o.maxAgeMs;
  });
}

/** This job's rule: its exact label AND its address, since a label alone may be shared. */
export function findOwnRule(rules: FirewallRule[], label: string, cidr: string): FirewallRule | undefined {
  return rules.find((r) => r.type === "custom_range" && r.label === label && r.cidr === cidr);
}

/** Removes this repository's stale rules; resolves how many it removed. */
export async function removeStaleRules(
  client: Rules,
  rules: FirewallRule[],
  o: { nowMs: number; maxAgeMs: number; ownBase: string; repository: string; log: Log },
): Promise<number> {
  let removed = 0;
  for (const rule of staleRules(rules, o)) {
    try {
      await client.removeRule(rule.id);
      removed++;
      o.log.info(`Removed stale rule ${rule.cidr} ("${rule.label}") left by a run that did not clean up.`);
    } catch (error) {
      o.log.warning(`Could not remove stale rule ${rule.cidr} ("${rule.label}"): ${errorMessage(error)}`);
    }
  }
  return removed;
}

/**
 * Allowlists `<ip>/32`: reuses a rule that already exists for it (and never removes it), else adds
 * one and saves its id at once. `rules` must be the list as it is now (after any sweep): a rule
 * just removed must not be "reused". A POST that failed may still have created the rule, so before
 * trying again the rules are listed and the rule with this job's label and address is adopted;
 * only when none is there is the POST retried, like any other call, on a 5xx or a lost answer.
 */
export async function openRule(
  client: Rules,
  o: { ip: string; label: string; rules: FirewallRule[]; state: StateStore; log: Log; clock?: Clock },
): Promise<OpenRule> {
  const cidr = `${o.ip}/32`;
  const clock = o.clock ?? realClock;
  const reuse = (rules: FirewallRule[]) => rules.find((r) => r.type === "custom_range" && r.cidr === cidr);
  const existing = reuse(o.rules);
  if (existing) {
    o.log.info(`A rule for ${cidr} already exists ("${existing.label ?? existing.id}"): using it, and leaving it in place.`);
    return { id: existing.id, cidr, label: existing.label, created: false };
  }
  o.state.save(State.ruleLabel, o.label);
  o.state.save(State.ruleCidr, cidr);
  for (let attempt = 0; ; attempt++) {
    try {
      const rule = await client.addRule(cidr, o.label);
      o.state.save(State.ruleId, rule.id);
      return { id: rule.id, cidr, label: o.label, created: true };
    } catch (error) {
      if (!(error instanceof ScalingoApiError)) throw error;
      const rules = await client.listRules();
      const adopted = findOwnRule(rules, o.label, cidr);
      if (adopted) {
        o.state.save(State.ruleId, adopted.id);
        o.log.info(`The rule was created although its answer was lost (${error.message}): adopting it.`);
        return { id: adopted.id, cidr, label: o.label, created: true };
      }
      if (error.status === 422) {
        const other = reuse(rules);
        if (other) return { id: other.id, cidr, label: other.label, created: false };
        throw new ActionError(
          "firewall",
          `Scalingo refused the firewall rule for ${cidr}: ${error.message}. A database holds at most 30 rules: remove unused ones (\`scalingo --database <id> database-firewall-rules\`) and run again.`,
        );
      }
      // The list shows no rule was created: the POST is as safe to send again as any other call.
      if (!isTransient(error) || attempt + 1 >= DEFAULT_RETRY.attempts) throw error;
      o.log.info(`Adding the firewall rule failed (${error.message}) and no rule was created: trying again.`);
      await clock.sleep(backoffMs(attempt, DEFAULT_RETRY));
    }
  }
}

/**
 * The firewall step of main: list, sweep this repository's stale rules, list again if the sweep
 * removed any (a removed rule for this very IP must not be "reused"), then open this job's rule.
 */
export async function sweepAndOpen(
  client: Rules & Pick<ScalingoClient, "formOf">,
  config: { staleRuleAgeMs: number; ruleLabel: string; repository: string },
  o: { ip: string; now: Date; state: StateStore; log: Log },
): Promise<OpenRule> {
  let rules = await client.listRules();
  // The list settled which form of the database API serves the rules: post must call the same.
  o.state.save(State.firewallApi, client.formOf("firewall_rules") ?? "");
  const sweep = { nowMs: o.now.getTime(), maxAgeMs: config.staleRuleAgeMs, ownBase: config.ruleLabel, repository: config.repository, log: o.log };
  if ((await removeStaleRules(client, rules, sweep)) > 0) rules = await client.listRules();
  return openRule(client, { ip: o.ip, label: timedLabel(config.ruleLabel, o.now), rules, state: o.state, log: o.log });
}

/** Removes a rule this job created; a rule already gone counts as removed. Safe to call twice. */
export async function closeRule(client: Rules, rule: OpenRule, state: StateStore, log: Log): Promise<void> {
  if (!rule.created || state.get(State.ruleRemoved) === "true") return;
  const existed = await client.removeRule(rule.id);
  state.save(State.ruleRemoved, "true");
  log.info(existed ? `Removed the temporary firewall rule for ${rule.cidr}.` : `The temporary rule for ${rule.cidr} was already gone.`);
}

/** Whether main saved a rule (or the intent to add one) that it did not remove itself. */
export function hasLeftoverRule(state: StateStore): boolean {
  return state.get(State.ruleRemoved) !== "true" && Boolean(state.get(State.ruleId) || state.get(State.ruleLabel));
}

/** What happens to a rule main could not remove, read from what main saved: only what is true. */
export function whoRemovesLeftover(state: StateStore): string {
  return hasLeftoverRule(state)
    ? "the post step will try again at the end of the job."
    : "remove it by hand (Scalingo dashboard, or `scalingo --database <id> database-firewall-rules`): it allowlists this runner's IP.";
}

/**
 * Post step: the rule main created and did not remove, from the saved id, or, when main died
 * before the API answered, by this job's label and address. Nothing else is ever touched. Main
 * saves the label and address before its POST and the id right after the answer, so a main that
 * died in between left them to search by; a main that saved neither never asked for a rule.
 */
export async function removeLeftoverRule(client: Rules, state: StateStore, log: Log): Promise<"none" | "removed" | "gone"> {
  if (!hasLeftoverRule(state)) return "none";
  let id = state.get(State.ruleId);
  if (!id) {
    const mine = findOwnRule(await client.listRules(), state.get(State.ruleLabel), state.get(State.ruleCidr));
    if (!mine) return "none";
    id = mine.id;
  }
  const existed = await client.removeRule(id);
  state.save(State.ruleRemoved, "true");
  log.info(existed ? "Removed the temporary firewall rule main left behind." : "The temporary firewall rule was already gone.");
  return existed ? "removed" : "gone";
}
