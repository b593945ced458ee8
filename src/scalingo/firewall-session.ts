import { errorMessage } from "../errors.js";
import type { Teardown } from "../runner/teardown.js";
import type { Log, StateStore } from "../types.js";
import type { ScalingoClient } from "./client.js";
import { type OpenRule, sweepAndOpen } from "./firewall.js";
import { hasLeftoverRule, removeLeftoverRule, whoRemovesLeftover } from "./rule-removal.js";

// The firewall session, one unit for every action that needs the database through Scalingo's
// firewall: open this job's /32 rule (after the stale sweep) → wait until the database answers →
// run the work → close the rule. The rule's removal is registered on the run's teardown before the
// rule is asked for, and reads only what was saved for the post step, so main's catch, its
// cancellation handler, its finally and the post step all remove it with the same code. It knows
// nothing of pg_dump: the wait and the work are the caller's.

export type FirewallClient = Pick<ScalingoClient, "listRules" | "addRule" | "removeRule" | "formOf">;

export interface FirewallOptions {
  client: FirewallClient;
  /** The user's label (empty: the default one), the repository whose stale rules may be swept and their age, the run that names the default label. */
  rules: Parameters<typeof sweepAndOpen>[1];
  /** The runner's public IPv4: the rule is `<ip>/32`. */
  ip: string;
  state: StateStore;
  log: Log;
  teardown: Teardown;
  now?: Date;
  /** The step's report: the rule is recorded on it as it opens and when it is first removed. */
  record?: RuleRecord;
}

/** What both actions' reports keep of the rule (outputs, the summary's exposure time). */
export interface RuleRecord {
  ruleId?: string;
  /** Whether this job added it (a reused rule is never removed). */
  ruleCreated?: boolean;
  ruleAddedAt?: Date;
  /** The first removal; not set for a reused rule, which stays. */
  ruleRemovedAt?: Date;
}

export interface FirewallSession {
  /** The rule in use; `created` says whether it is this job's to remove. */
  readonly rule: OpenRule;
  /** When the rule was there (added, or found): the start of the time the database is open to the runner. */
  readonly openedAt: Date;
  /** Removes this job's rule now (a reused one stays); never throws: a failure is a warning and post tries again. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens the rule; its removal is on the teardown from before the request (a lost answer may still
 * have created it). A run whose teardown started meanwhile (a cancelled job) opens nothing more,
 * and a rule whose answer came after the teardown looked for it is removed at once.
 */
export async function openFirewall(o: FirewallOptions): Promise<FirewallSession> {
  o.teardown.ending.throwIfAborted();
  const removal = o.teardown.defer("rule", "remove the firewall rule", () => removeSavedRule(o));
  const rule = await sweepAndOpen(o.client, o.rules, { ip: o.ip, now: o.now ?? new Date(), state: o.state, log: o.log });
  if (!rule.created) removal.release();
  if (o.teardown.ending.aborted) {
    if (rule.created) await removeSavedRule(o);
    throw o.teardown.ending.reason;
  }
  if (rule.created) o.log.info(`Added firewall rule ${rule.cidr} ("${rule.label}"). Scalingo applies it in about two minutes.`);
  const openedAt = new Date();
  if (o.record) Object.assign(o.record, { ruleId: rule.id, ruleCreated: rule.created, ruleAddedAt: openedAt });
  return { rule, openedAt, close: () => removal.now() };
}

/**
 * The whole session: open → `waitUntilReady` (given a signal that the teardown aborts) → `work` →
 * close, the rule closed as soon as the work ends, however it ends.
 */
export async function withFirewall<R, T>(
  o: FirewallOptions & { waitUntilReady: (signal: AbortSignal) => Promise<R> },
  work: (ready: R, rule: OpenRule) => Promise<T>,
): Promise<T> {
  const session = await openFirewall(o);
  try {
    const ready = await o.waitUntilReady(o.teardown.ending);
    return await work(ready, session.rule);
  } finally {
    await session.close();
  }
}

/** Main's removal, from the saved label, address and id: what post would do, a warning if it fails. */
async function removeSavedRule(o: FirewallOptions): Promise<void> {
  try {
    if ((await removeLeftoverRule(o.client, o.state, o.log, "this run")) !== "none" && o.record) o.record.ruleRemovedAt ??= new Date();
  } catch (error) {
    o.log.warning(`Could not remove the firewall rule now (${errorMessage(error)}); ${whoRemovesLeftover(o.state)}`);
  }
}

/**
 * The post step's part: the rule a main step created and did not remove (it failed, was cancelled,
 * or was killed). `connect` builds the client only when there is something to remove. Throws when
 * it cannot: post is the last chance, and the error must say to remove the rule by hand.
 */
export async function removeLeftoverFirewallRule(o: { connect: () => Promise<FirewallClient>; state: StateStore; log: Log }): Promise<boolean> {
  if (!hasLeftoverRule(o.state)) {
    o.log.info("No temporary firewall rule left to remove.");
    return false;
  }
  return (await removeLeftoverRule(await o.connect(), o.state, o.log, "main")) !== "none";
}
