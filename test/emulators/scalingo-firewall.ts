// The database's firewall: the rule list the database API shows, and its effect on the real
// PostgreSQL server (pg_hba lines), applied after a delay as Scalingo does.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { PgServer } from "../support/postgres.js";
import { fail } from "./scalingo-http.js";

export interface FirewallRule {
  id: string;
  type: "custom_range" | "managed_range";
  cidr?: string;
  label?: string;
  range_id?: string;
  database_id: string;
}

export const MANAGED_RANGES = [
  { id: "scalingo-osc-fr1", name: "Scalingo osc-fr1 applications" },
  { id: "scalingo-osc-secnum-fr1", name: "Scalingo osc-secnum-fr1 applications" },
];

/** IPv4 only, like Scalingo: a.b.c.d/n with canonical octets and 0 <= n <= 32. */
export function isIpv4Cidr(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return false;
  const octets = match.slice(1, 5);
  return octets.every((o) => Number(o) <= 255 && String(Number(o)) === o) && Number(match[5]) <= 32;
}

const invalid = (field: string, message: string) => fail(422, { errors: { [field]: [message] } });

/**
 * Several emulated databases may share one real server (a matrix of databases in one test). Each
 * firewall gates its own database's role only (`host all <role> <cidr>`), as Scalingo's firewall
 * gates one database instance: a rule of another database never lets this one's role in, so an
 * action cannot see its database answer before its own rule applies (and lose it when the other
 * database's rule goes). Emulators of one database (one role) share its line: it stays while any
 * of their firewalls allows the address.
 */
const allowedBy = new WeakMap<PgServer, Map<string, Set<Firewall>>>();
function holders(pg: PgServer, role: string, cidr: string): Set<Firewall> {
  const byLine = allowedBy.get(pg) ?? new Map<string, Set<Firewall>>();
  allowedBy.set(pg, byLine);
  const key = `${role} ${cidr}`;
  const set = byLine.get(key) ?? new Set<Firewall>();
  byLine.set(key, set);
  return set;
}

export class Firewall {
  readonly rules: FirewallRule[] = [];
  private readonly pending = new Set<Promise<void>>();
  /** CIDRs this emulator opened in pg_hba, closed again by close() */
  private readonly opened = new Set<string>();
  private readonly aborter = new AbortController();
  private applyError: unknown;

  constructor(
    private readonly pg: PgServer,
    /** the database's role: the only one this firewall lets in */
    private readonly role: string,
    private readonly databaseId: string,
    private readonly delayMs: number,
    private readonly maxRules: number,
    private readonly labels: { strict: boolean; normalise: (label: string) => string } = { strict: false, normalise: (l) => l },
  ) {}

  /** Validates a POST body as the database API does; answers 422 `{"errors": {...}}` otherwise. */
  add(body: Record<string, unknown>): FirewallRule {
    const { type, cidr, label, range_id: rangeId } = body;
    const sent = label === undefined ? "" : typeof label === "string" ? label : invalid("label", "is invalid");
    if (this.labels.strict && (sent.length > 64 || !/^[A-Za-z0-9 ._-]*$/.test(sent))) invalid("label", "is invalid");
    const text = this.labels.normalise(sent);
    let rule: FirewallRule;
    if (type === "custom_range") {
      if (cidr === undefined || cidr === "") return invalid("cidr", "can't be blank");
      if (typeof cidr !== "string" || !isIpv4Cidr(cidr)) return invalid("cidr", "is invalid");
      if (this.rules.some((r) => r.cidr === cidr)) invalid("cidr", "has already been taken");
      rule = { id: randomUUID(), type, cidr, label: text, database_id: this.databaseId };
    } else if (type === "managed_range") {
      if (typeof rangeId !== "string" || !MANAGED_RANGES.some((r) => r.id === rangeId)) return invalid("range_id", "is invalid");
      if (this.rules.some((r) => r.range_id === rangeId)) invalid("range_id", "has already been taken");
      rule = { id: randomUUID(), type, range_id: rangeId, label: text, database_id: this.databaseId };
    } else {
      return invalid("type", "is invalid");
    }
    if (this.rules.length >= this.maxRules) invalid("cidr", `limit of ${this.maxRules} firewall rules reached`);
    this.rules.push(rule);
    if (rule.cidr) this.schedule(() => this.open(rule.cidr as string));
    return rule;
  }

  /** false when no such rule */
  remove(id: string): boolean {
    const index = this.rules.findIndex((r) => r.id === id);
    if (index < 0) return false;
    const [rule] = this.rules.splice(index, 1);
    if (rule.cidr) this.schedule(() => this.close(rule.cidr as string));
    return true;
  }

  /** Pre-existing state: effective at once, with no validation (tests may seed anything). */
  async seed(r: Omit<FirewallRule, "id" | "database_id">): Promise<FirewallRule> {
    const rule: FirewallRule = { ...r, id: randomUUID(), database_id: this.databaseId };
    this.rules.push(rule);
    if (rule.type === "custom_range" && rule.cidr) await this.open(rule.cidr);
    return rule;
  }

  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    if (this.applyError) throw this.applyError;
  }

  /** Drops changes not yet applied and closes everything this emulator opened. */
  async shutdown(): Promise<void> {
    this.aborter.abort();
    await Promise.all(this.pending);
    for (const cidr of this.opened) await this.deny(cidr);
    this.opened.clear();
  }

  private schedule(change: () => Promise<void>): void {
    const done: Promise<void> = sleep(this.delayMs, undefined, { signal: this.aborter.signal })
      .then(change)
      .catch((error: unknown) => {
        if (!this.aborter.signal.aborted) this.applyError ??= error;
      })
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  private async open(cidr: string): Promise<void> {
    holders(this.pg, this.role, cidr).add(this);
    await this.pg.allowCidr(cidr, this.role);
    this.opened.add(cidr);
  }

  private async deny(cidr: string): Promise<void> {
    const set = holders(this.pg, this.role, cidr);
    set.delete(this);
    if (set.size === 0) await this.pg.denyCidr(cidr, this.role);
  }

  // Decided when the change lands, not when it was requested: a rule re-added meanwhile keeps it open.
  private async close(cidr: string): Promise<void> {
    if (this.rules.some((r) => r.type === "custom_range" && r.cidr === cidr)) return;
    await this.deny(cidr);
    this.opened.delete(cidr);
  }
}
