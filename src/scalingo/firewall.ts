import { LABEL_PREFIX, State } from "../constants.js";
import { ActionError, errorMessage, ScalingoApiError } from "../errors.js";
import type { Log, StateStore } from "../types.js";
import type { FirewallRule, ScalingoClient } from "./client.js";
import { backoffMs, type Clock, DEFAULT_RETRY, realClock } from "./http.js";

/** The rule this job relies on; `created` says whether it is this job's to remove. */
export interface OpenRule {
  id: string;
  cidr: string;
  label?: string;
  created: boolean;
}

type Rules = Pick<ScalingoClient, "listRules" | "addRule" | "removeRule">;

/**
 * The label carries its creation time so that a later run can recognise, by this exact format
 * only, a rule whose run died without its post step, and tell how old it is.
 */
export function timedLabel(base: string, at: Date): string {
  return `${base} at ${at.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
}

const OWN_LABEL = new RegExp(`^${LABEL_PREFIX} \\S+ run \\d+/\\d+ job \\S+ at (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ)$`);

/** Rules this action created in earlier runs and left behind, older than `maxAgeMs`. Users' rules never match. */
export function staleRules(rules: FirewallRule[], nowMs: number, maxAgeMs: number, ownBase: string): FirewallRule[] {
  if (maxAgeMs <= 0) return [];
  return rules.filter((rule) => {
    const match = rule.type === "custom_range" && rule.label ? OWN_LABEL.exec(rule.label) : null;
    if (!match || rule.label?.startsWith(`${ownBase} at `)) return false;
    return nowMs - Date.parse(match[1]) > maxAgeMs;
  });
}

export function findOwnRule(rules: FirewallRule[], label: string): FirewallRule | undefined {
  return rules.find((r) => r.type === "custom_range" && r.label === label);
}

export async function removeStaleRules(client: Rules, rules: FirewallRule[], o: { nowMs: number; maxAgeMs: number; ownBase: string; log: Log }): Promise<void> {
  for (const rule of staleRules(rules, o.nowMs, o.maxAgeMs, o.ownBase)) {
    try {
      await client.removeRule(rule.id);
      o.log.info(`Removed stale rule ${rule.cidr} ("${rule.label}") left by a run that did not clean up.`);
    } catch (error) {
      o.log.warning(`Could not remove stale rule ${rule.cidr} ("${rule.label}"): ${errorMessage(error)}`);
    }
  }
}

/**
 * Allowlists `<ip>/32`: reuses a rule that already exists for it (and never removes it), else adds
 * one and saves its id at once. A POST whose answer was lost may still have created the rule, so
 * before trying again the rules are listed and a rule with this job's label is adopted.
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
  for (let attempt = 0; ; attempt++) {
    try {
      const rule = await client.addRule(cidr, o.label);
      o.state.save(State.ruleId, rule.id);
      return { id: rule.id, cidr, label: o.label, created: true };
    } catch (error) {
      if (!(error instanceof ScalingoApiError)) throw error;
      const rules = await client.listRules();
      const adopted = findOwnRule(rules, o.label);
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
      if (!error.retryable || attempt + 1 >= DEFAULT_RETRY.attempts) throw error;
      await clock.sleep(backoffMs(attempt, DEFAULT_RETRY));
    }
  }
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

/**
 * Post step: the rule main created and did not remove, from the saved id, or, when main died
 * before the API answered, by this job's label. Nothing else is ever touched. Main saves the
 * label before its POST and the id right after the answer, so a main that died in between left a
 * label to search by; a main that saved neither never asked for a rule.
 */
export async function removeLeftoverRule(client: Rules, state: StateStore, log: Log): Promise<"none" | "removed" | "gone"> {
  if (!hasLeftoverRule(state)) return "none";
  let id = state.get(State.ruleId);
  if (!id) {
    const label = state.get(State.ruleLabel);
    const mine = findOwnRule(await client.listRules(), label);
    if (!mine) return "none";
    id = mine.id;
  }
  const existed = await client.removeRule(id);
  state.save(State.ruleRemoved, "true");
  log.info(existed ? "Removed the temporary firewall rule main left behind." : "The temporary firewall rule was already gone.");
  return existed ? "removed" : "gone";
}
