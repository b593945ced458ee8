import { State } from "../constants.js";
import { ActionError } from "../errors.js";
import type { Log, StateStore } from "../types.js";
import type { ScalingoClient } from "./client.js";
import { findOwnRule, type OpenRule } from "./firewall.js";

// Removing this job's rule: main right after pg_dump, post as the safety net. Both only ever
// remove the rule this job created, and both say "already gone" only when it is.

type Rules = Pick<ScalingoClient, "listRules" | "removeRule">;

/**
 * DELETE, and what it achieved. Whether a deleted rule answers 404 is not documented, and a 404
 * may also come from a host or route that does not serve the rule: after a 404 the rules are
 * listed, and the rule is "gone" only when the list does not hold it.
 */
export async function removeChecked(client: Rules, id: string): Promise<"removed" | "gone" | "still-open"> {
  if (await client.removeRule(id)) return "removed";
  return (await client.listRules()).some((r) => r.id === id) ? "still-open" : "gone";
}

function stillOpen(cidr: string | undefined, id: string): string {
  return `Scalingo answered 404 to the removal of rule ${id}${cidr ? ` (${cidr})` : ""}, yet still lists it: the rule is still open`;
}

/** Removes a rule this job created; a rule already gone counts as removed. Safe to call twice. */
export async function closeRule(client: Rules, rule: OpenRule, state: StateStore, log: Log): Promise<void> {
  if (!rule.created || state.get(State.ruleRemoved) === "true") return;
  const outcome = await removeChecked(client, rule.id);
  // Not marked removed: the post step tries again.
  if (outcome === "still-open") throw new ActionError("firewall", stillOpen(rule.cidr, rule.id));
  state.save(State.ruleRemoved, "true");
  log.info(outcome === "removed" ? `Removed the temporary firewall rule for ${rule.cidr}.` : `The temporary rule for ${rule.cidr} was already gone.`);
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
 * before the API answered, by this job's token (or label) and address. Nothing else is ever
 * touched. Main saves the label, token and address before its POST and the id right after the
 * answer, so a main that died in between left them to search by; a main that saved neither never
 * asked for a rule.
 */
export async function removeLeftoverRule(
  client: Rules,
  state: StateStore,
  log: Log,
  leftBy: "main" | "this run" = "main",
): Promise<"none" | "removed" | "gone"> {
  if (!hasLeftoverRule(state)) return "none";
  let id = state.get(State.ruleId);
  if (!id) {
    const own = { label: state.get(State.ruleLabel), token: state.get(State.ruleToken) || undefined };
    const mine = findOwnRule(await client.listRules(), own, state.get(State.ruleCidr));
    if (!mine) return "none";
    id = mine.id;
  }
  const outcome = await removeChecked(client, id);
  if (outcome === "still-open") throw new ActionError("firewall", stillOpen(state.get(State.ruleCidr), id));
  state.save(State.ruleRemoved, "true");
  const what = leftBy === "main" ? "the temporary firewall rule main left behind" : `the temporary firewall rule for ${state.get(State.ruleCidr)}`;
  log.info(outcome === "removed" ? `Removed ${what}.` : `${what[0]?.toUpperCase()}${what.slice(1)} was already gone.`);
  return outcome;
}
