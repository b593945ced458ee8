import { State } from "../constants.js";
import { ActionError, errorMessage, ScalingoApiError } from "../errors.js";
import type { Log, StateStore } from "../types.js";
import type { FirewallRule, ScalingoClient } from "./client.js";
import { backoffMs, type Clock, DEFAULT_RETRY, isTransient, realClock } from "./http.js";
import { defaultRuleLabel, isOwnLabel, LABEL_RULE, type LabelIdentity, newLabelToken, parseOwnLabel } from "./rule-label.js";

/** The rule this job relies on; `created` says whether it is this job's to remove. */
export interface OpenRule {
  id: string;
  cidr: string;
  label?: string;
  created: boolean;
}

type Rules = Pick<ScalingoClient, "listRules" | "addRule" | "removeRule">;

/**
 * Rules this repository's earlier runs created and left behind, older than `maxAgeMs`, in the
 * action's current label format or the one before it. Users' rules, custom labels and other
 * repositories' rules never match: another repository's jobs may still be running, and only
 * GitHub's job time limit tells a dead job from a live one.
 */
export function staleRules(rules: FirewallRule[], o: { nowMs: number; maxAgeMs: number; repository: string; ownToken?: string }): FirewallRule[] {
  if (o.maxAgeMs <= 0) return [];
  return rules.filter((rule) => {
    const own = rule.type === "custom_range" && rule.label ? parseOwnLabel(rule.label) : undefined;
    if (!own?.isRepository(o.repository) || own.createdAtMs === undefined || (o.ownToken && own.token === o.ownToken)) return false;
    return o.nowMs - own.createdAtMs > o.maxAgeMs;
  });
}

/** This job's rule: its label (or token) AND its address, since a label alone may be shared. */
export function findOwnRule(rules: FirewallRule[], own: LabelIdentity, cidr: string): FirewallRule | undefined {
  return rules.find((r) => r.type === "custom_range" && r.cidr === cidr && isOwnLabel(r.label, own));
}

/** Removes this repository's stale rules; resolves how many it removed. */
export async function removeStaleRules(
  client: Rules,
  rules: FirewallRule[],
  o: { nowMs: number; maxAgeMs: number; repository: string; log: Log },
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

/** A rule for this address already there: used, never removed; another live run of this repository's is said so. */
function reuseExisting(existing: FirewallRule, cidr: string, repository: string, log: Log): OpenRule {
  if (existing.label && parseOwnLabel(existing.label)?.isRepository(repository)) {
    log.warning(
      `${cidr} is already allowlisted by another run of this repository ("${existing.label}"), still going: this run uses that rule and never removes it, but that run removes it when it ends, maybe during this dump. Give the jobs that back up one database a concurrency group (see the README).`,
    );
  } else {
    log.info(`A rule for ${cidr} already exists ("${existing.label ?? existing.id}"): using it, and leaving it in place.`);
  }
  return { id: existing.id, cidr, label: existing.label, created: false };
}

/** Scalingo's 422 to the POST, in words the user can act on: the label, or the number of rules. */
function refusal(error: ScalingoApiError, cidr: string, label: string, custom: boolean): ActionError {
  if (/\blabel\b/i.test(error.message)) {
    const fix = custom
      ? "Change `rule-label`, or leave it empty for the default label, which follows that rule."
      : "Set `rule-label` to a label Scalingo accepts.";
    return new ActionError(
      "firewall",
      `Scalingo refused the rule label "${label}": ${error.message}. Scalingo does not document its label rule; the action assumes ${LABEL_RULE}. ${fix}`,
    );
  }
  return new ActionError(
    "firewall",
    `Scalingo refused the firewall rule for ${cidr}: ${error.message} (label "${label}"). A database holds at most 30 rules: remove unused ones (\`scalingo --database <id> database-firewall-rules\`) and run again.`,
  );
}

/**
 * Allowlists `<ip>/32`: reuses a rule that already exists for it (and never removes it), else adds
 * one and saves its id at once. `rules` must be the list as it is now (after any sweep): a rule
 * just removed must not be "reused". The label, its token and the address are saved before the
 * POST. A POST that failed may still have created the rule, so before trying again the rules are
 * listed and a rule with this job's token (or label) and address is adopted; only when none is
 * there is the POST retried, like any other call, on a 5xx or a lost answer.
 */
export async function openRule(
  client: Rules,
  o: { ip: string; own: LabelIdentity; custom: boolean; repository: string; rules: FirewallRule[]; state: StateStore; log: Log; clock?: Clock },
): Promise<OpenRule> {
  const cidr = `${o.ip}/32`;
  const clock = o.clock ?? realClock;
  const label = o.own.label;
  const reuse = (rules: FirewallRule[]) => rules.find((r) => r.type === "custom_range" && r.cidr === cidr);
  const existing = reuse(o.rules);
  if (existing) return reuseExisting(existing, cidr, o.repository, o.log);
  o.state.save(State.ruleLabel, label);
  o.state.save(State.ruleToken, o.own.token ?? "");
  o.state.save(State.ruleCidr, cidr);
  for (let attempt = 0; ; attempt++) {
    try {
      const rule = await client.addRule(cidr, label);
      o.state.save(State.ruleId, rule.id);
      return { id: rule.id, cidr, label, created: true };
    } catch (error) {
      if (!(error instanceof ScalingoApiError)) throw error;
      const rules = await client.listRules();
      const adopted = findOwnRule(rules, o.own, cidr);
      if (adopted) {
        o.state.save(State.ruleId, adopted.id);
        o.log.info(`The rule was created although its answer was lost (${error.message}): adopting it ("${adopted.label}").`);
        return { id: adopted.id, cidr, label: adopted.label, created: true };
      }
      if (error.status === 422) {
        const other = reuse(rules);
        if (other) return reuseExisting(other, cidr, o.repository, o.log);
        throw refusal(error, cidr, label, o.custom);
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
 * removed any (a removed rule for this very IP must not be "reused"), then open this job's rule
 * under the user's label, or the default one with a fresh random token.
 */
export async function sweepAndOpen(
  client: Rules & Pick<ScalingoClient, "formOf">,
  config: { staleRuleAgeMs: number; ruleLabel?: string; repository: string; run: { runId: string; attempt: string; job: string } },
  o: { ip: string; now: Date; state: StateStore; log: Log; token?: string },
): Promise<OpenRule> {
  let rules = await client.listRules();
  // The list settled which form of the database API serves the rules: post must call the same.
  o.state.save(State.firewallApi, client.formOf("firewall_rules") ?? "");
  const sweep = { nowMs: o.now.getTime(), maxAgeMs: config.staleRuleAgeMs, repository: config.repository, log: o.log };
  if ((await removeStaleRules(client, rules, sweep)) > 0) rules = await client.listRules();
  const token = o.token ?? newLabelToken();
  const own: LabelIdentity = config.ruleLabel
    ? { label: config.ruleLabel }
    : { label: defaultRuleLabel({ token, repository: config.repository, at: o.now, ...config.run }), token };
  return openRule(client, { ip: o.ip, own, custom: Boolean(config.ruleLabel), repository: config.repository, rules, state: o.state, log: o.log });
}
