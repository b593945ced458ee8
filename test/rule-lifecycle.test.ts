// The firewall rule's life, module by module, against the Scalingo emulator gating a real
// PostgreSQL: opened (retried only when that is safe), adopted when its answer was lost, reused
// and never removed when it was not this job's, removed (and checked) by main or post.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { State } from "../src/constants.js";
import { ActionError, ScalingoApiError } from "../src/errors.js";
import { ScalingoClient } from "../src/scalingo/client.js";
import { openRule, sweepAndOpen } from "../src/scalingo/firewall.js";
import { DEFAULT_RETRY } from "../src/scalingo/http.js";
import { defaultRuleLabel } from "../src/scalingo/rule-label.js";
import { closeRule, hasLeftoverRule, removeLeftoverRule, whoRemovesLeftover } from "../src/scalingo/rule-removal.js";
import type { Log, StateStore } from "../src/types.js";
import { type ScalingoEmulator, type ScalingoEmulatorOptions, startScalingoEmulator } from "./emulators/scalingo.js";
import { type PgServer, startPostgres } from "./support/postgres.js";

const API_TOKEN = "tk-us-rule-lifecycle";
const DATABASE = "rules-db";
const IP = "203.0.113.7";
const CIDR = `${IP}/32`;
const REPOSITORY = "acme/shop";
const RUN = { runId: "4242", attempt: "1", job: "backup" };
const NOW = new Date("2026-12-05T03:17:00Z");

function memoryState(initial: Record<string, string> = {}): StateStore & { values: Record<string, string> } {
  const values = { ...initial };
  return {
    values,
    save: (k, v) => {
      values[k] = v;
    },
    get: (k) => values[k] ?? "",
  };
}
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => void lines.push(`info: ${m}`), warning: (m) => void lines.push(`warning: ${m}`) };
}

describe("the rule's life against the Scalingo emulator", () => {
  let pg: PgServer;
  const emulators: ScalingoEmulator[] = [];
  /** What the retries waited: the clock sleeps for no time, so nothing here depends on the machine's speed. */
  let sleeps: number[];
  const clock = { now: () => Date.now(), sleep: async (ms: number) => void sleeps.push(ms) };

  async function setup(more: Partial<ScalingoEmulatorOptions> = {}) {
    const emu = await startScalingoEmulator({
      apiToken: API_TOKEN,
      databaseId: DATABASE,
      pg,
      dbName: "rules_db",
      dbUser: "rules_user",
      dbPassword: "pw",
      ...more,
    });
    emulators.push(emu);
    const client = new ScalingoClient({ authUrl: emu.authUrl, apiToken: API_TOKEN, region: "osc-fr1", database: DATABASE, onSecret: () => undefined, clock });
    await client.connect();
    return { emu, client, state: memoryState(), log: recordingLog() };
  }
  const posts = (emu: ScalingoEmulator) => emu.requests.filter((r) => r.method === "POST" && /firewall_rules$/.test(r.path));
  const own = { label: defaultRuleLabel({ token: "abcdefgh", repository: REPOSITORY, at: NOW, ...RUN }), token: "abcdefgh" };
  const open = async (s: Awaited<ReturnType<typeof setup>>, o: { own?: { label: string; token?: string }; custom?: boolean } = {}) =>
    openRule(s.client, {
      ip: IP,
      own: o.own ?? own,
      custom: o.custom ?? false,
      repository: REPOSITORY,
      rules: await s.client.listRules(),
      state: s.state,
      log: s.log,
      clock,
    });

  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterEach(async () => {
    for (const emu of emulators.splice(0)) await emu.close();
    sleeps = [];
  });
  afterAll(async () => {
    await pg?.stop();
  });
  sleeps = [];

  describe("opening", () => {
    it("saves the label, token and address before the POST and the id after it", async () => {
      const s = await setup();
      const rule = await open(s);
      expect(rule).toEqual({ id: s.emu.rules[0]?.id, cidr: CIDR, label: own.label, created: true });
      expect(s.emu.rules.map((r) => [r.cidr, r.label])).toEqual([[CIDR, own.label]]);
      expect(s.state.values).toEqual({ [State.ruleLabel]: own.label, [State.ruleToken]: "abcdefgh", [State.ruleCidr]: CIDR, [State.ruleId]: rule.id });
      expect(posts(s.emu)).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it("a transient failure of the POST (503, or no answer) is retried once the list shows no rule was created", async () => {
      for (const fault of [{ status: 503, body: '{"error":"unavailable"}' }, { reset: true }]) {
        const s = await setup();
        s.emu.addFault({ method: "POST", path: /firewall_rules$/, ...fault });
        const rule = await open(s);
        expect(rule.created).toBe(true);
        expect(s.emu.rules.map((r) => r.cidr)).toEqual([CIDR]);
        expect(posts(s.emu).map((r) => r.status)).toEqual([fault.reset ? 0 : 503, 201]);
        expect(sleeps).toHaveLength(1);
        expect(s.log.lines.join("\n")).toMatch(/Adding the firewall rule failed .* and no rule was created: trying again\./);
        expect(s.state.get(State.ruleId)).toBe(rule.id);
        sleeps = [];
      }
    });

    it("a permanent failure of the POST (400) is not retried: one POST, the error at once, no rule", async () => {
      const s = await setup();
      s.emu.addFault({ method: "POST", path: /firewall_rules$/, status: 400, body: '{"error":"bad request"}', times: 5 });
      const error = await open(s).catch((e) => e);
      expect(error).toBeInstanceOf(ScalingoApiError);
      expect(error.status).toBe(400);
      expect(posts(s.emu)).toHaveLength(1);
      expect(sleeps).toEqual([]);
      expect(s.emu.rules).toEqual([]);
      // Saved before the POST: post looks for a rule by them, finds none, and touches nothing.
      expect(hasLeftoverRule(s.state)).toBe(true);
    });

    it("transient failures stop after the retry policy's attempts, with growing waits", async () => {
      const s = await setup();
      s.emu.addFault({ method: "POST", path: /firewall_rules$/, status: 502, body: '{"error":"bad gateway"}', times: 50 });
      const error = await open(s).catch((e) => e);
      expect(error).toBeInstanceOf(ScalingoApiError);
      expect(error.status).toBe(502);
      expect(posts(s.emu)).toHaveLength(DEFAULT_RETRY.attempts);
      expect(sleeps).toHaveLength(DEFAULT_RETRY.attempts - 1);
      expect(sleeps[1]).toBeGreaterThan(0);
      expect(s.emu.rules).toEqual([]);
    });

    it("a POST whose answer was lost after the rule was made: the rule is adopted, never posted twice", async () => {
      for (const fault of [{ reset: true }, { status: 500 }]) {
        const s = await setup();
        s.emu.addFault({ method: "POST", path: /firewall_rules$/, passThrough: true, ...fault });
        const rule = await open(s);
        expect(posts(s.emu)).toHaveLength(1);
        expect(s.emu.rules).toHaveLength(1);
        expect(rule).toEqual({ id: s.emu.rules[0]?.id, cidr: CIDR, label: own.label, created: true });
        expect(s.state.get(State.ruleId)).toBe(rule.id);
        expect(s.log.lines.join("\n")).toMatch(/The rule was created although its answer was lost .*: adopting it/);
        expect(sleeps).toEqual([]);
      }
    });

    it("a rule already there for this address is used, and says whose it is; it is never this job's to remove", async () => {
      const s = await setup();
      await s.emu.seedRule({ type: "custom_range", cidr: CIDR, label: "office VPN" });
      const rule = await open(s);
      expect(rule).toMatchObject({ cidr: CIDR, label: "office VPN", created: false });
      expect(posts(s.emu)).toHaveLength(0);
      expect(s.state.values).toEqual({});
      expect(s.log.lines).toEqual([`info: A rule for ${CIDR} already exists ("office VPN"): using it, and leaving it in place.`]);
      await closeRule(s.client, rule, s.state, s.log);
      expect(s.emu.rules).toHaveLength(1);

      const sibling = await setup();
      const other = defaultRuleLabel({ token: "zzzzzzzz", repository: REPOSITORY, at: NOW, ...RUN });
      await sibling.emu.seedRule({ type: "custom_range", cidr: CIDR, label: other });
      expect(await open(sibling)).toMatchObject({ created: false, label: other });
      expect(sibling.log.lines.join("\n")).toMatch(/^warning: .* is already allowlisted by another run of this repository .*concurrency group/);
    });

    it("a rule for another address is not reused", async () => {
      const s = await setup();
      await s.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: "office VPN" });
      expect((await open(s)).created).toBe(true);
      expect(s.emu.rules.map((r) => r.cidr).sort()).toEqual(["198.51.100.9/32", CIDR]);
    });

    it("a 422 after which the list shows a rule for this address (added meanwhile): that rule is used and left, not an error", async () => {
      const s = await setup();
      const other = await s.emu.seedRule({ type: "custom_range", cidr: CIDR, label: "office" });
      s.emu.addFault({ method: "POST", path: /firewall_rules$/, status: 422, body: '{"errors":{"cidr":["already exists"]}}' });
      // The list the caller had was taken before the other rule was added.
      const rule = await openRule(s.client, { ip: IP, own, custom: false, repository: REPOSITORY, rules: [], state: s.state, log: s.log, clock });
      expect(rule).toEqual({ id: other.id, cidr: CIDR, label: "office", created: false });
      expect(s.emu.rules.map((r) => r.id)).toEqual([other.id]);
    });

    it("a failure that is not Scalingo's answer (a bug, an abort) is thrown at once: no list, no retry", async () => {
      const s = await setup();
      const before = s.emu.requests.length;
      const failing = {
        listRules: () => s.client.listRules(),
        removeRule: (id: string) => s.client.removeRule(id),
        addRule: async () => {
          throw new TypeError("not Scalingo's");
        },
      };
      const error = await openRule(failing, { ip: IP, own, custom: false, repository: REPOSITORY, rules: [], state: s.state, log: s.log, clock }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(s.emu.requests.slice(before)).toEqual([]);
      expect(sleeps).toEqual([]);
    });

    it("Scalingo's 422: the label, in words that name the input; the number of rules, with the way out", async () => {
      const strict = await setup({ strictLabels: true });
      const custom = await open(strict, { own: { label: "nightly/backup" }, custom: true }).catch((e) => e);
      expect(custom).toBeInstanceOf(ActionError);
      expect(custom.phase).toBe("firewall");
      expect(custom.message).toMatch(/^Scalingo refused the rule label "nightly\/backup": .*Change `rule-label`, or leave it empty/);
      expect(custom.message).toContain("the action assumes at most 64 characters, only letters, digits, space, dot, dash and underscore.");
      const long = `${own.label}-${"x".repeat(80)}`;
      const byDefault = await open(strict, { own: { label: long, token: own.token } }).catch((e) => e);
      expect(byDefault.message).toMatch(/Set `rule-label` to a label Scalingo accepts\./);
      expect(posts(strict.emu)).toHaveLength(2);

      const full = await setup({ maxRules: 1 });
      await full.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: "office VPN" });
      const error = await open(full).catch((e) => e);
      expect(error).toBeInstanceOf(ActionError);
      expect(error.phase).toBe("firewall");
      expect(error.message).toMatch(/^Scalingo refused the firewall rule for 203\.0\.113\.7\/32: .* A database holds at most 30 rules/);
      expect(sleeps).toEqual([]);
    });
  });

  describe("the sweep then the rule (sweepAndOpen)", () => {
    const config = { staleRuleAgeMs: 12 * 3600_000, repository: REPOSITORY, run: RUN };

    it("removes this repository's stale rules first, saves the API form, then opens a fresh default label with the token", async () => {
      const s = await setup();
      const stale = defaultRuleLabel({ token: "oldoldol", repository: REPOSITORY, at: new Date("2026-12-04T01:00:00Z"), ...RUN });
      await s.emu.seedRule({ type: "custom_range", cidr: CIDR, label: stale });
      await s.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: "office VPN" });
      const rule = await sweepAndOpen(s.client, config, { ip: IP, now: NOW, state: s.state, log: s.log, token: "mytokenx" });
      // The stale rule was for this very address: it is gone, not "reused".
      expect(rule.created).toBe(true);
      expect(rule.label).toBe(defaultRuleLabel({ token: "mytokenx", repository: REPOSITORY, at: NOW, ...RUN }));
      expect(s.emu.rules.map((r) => r.label).sort()).toEqual(["office VPN", rule.label]);
      expect(s.state.get(State.firewallApi)).toMatch(/^(legacy|regional)$/);
      expect(s.state.get(State.ruleToken)).toBe("mytokenx");
      expect(s.log.lines[0]).toMatch(/^info: Removed stale rule 203\.0\.113\.7\/32 \("scalingo-pg-dump oldoldol /);
    });

    it("a sweep that removed nothing does not list the rules again", async () => {
      const s = await setup();
      await s.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: "office VPN" });
      const before = s.emu.requests.length;
      await sweepAndOpen(s.client, config, { ip: IP, now: NOW, state: s.state, log: s.log, token: "mytokenx" });
      const lists = s.emu.requests.slice(before).filter((r) => r.method === "GET" && /firewall_rules$/.test(r.path));
      expect(lists).toHaveLength(1);
      expect(s.log.lines.filter((l) => l.includes("stale"))).toEqual([]);
    });

    it("a user's label is used as it is, without a token; a failed stale removal is a warning", async () => {
      const s = await setup();
      const stale = defaultRuleLabel({ token: "oldoldol", repository: REPOSITORY, at: new Date("2026-12-04T01:00:00Z"), ...RUN });
      await s.emu.seedRule({ type: "custom_range", cidr: "198.51.100.10/32", label: stale });
      s.emu.addFault({ method: "DELETE", path: /firewall_rules\//, status: 400, body: '{"error":"no"}' });
      const rule = await sweepAndOpen(s.client, { ...config, ruleLabel: "nightly backup" }, { ip: IP, now: NOW, state: s.state, log: s.log });
      expect(rule.label).toBe("nightly backup");
      expect(s.state.get(State.ruleToken)).toBe("");
      expect(s.log.lines[0]).toMatch(/^warning: Could not remove stale rule 198\.51\.100\.10\/32 /);
      expect(s.emu.rules).toHaveLength(2);
    });
  });

  describe("removing", () => {
    it("main: removes the rule it created once, even when called twice, and marks it removed for post", async () => {
      const s = await setup();
      const rule = await open(s);
      await closeRule(s.client, rule, s.state, s.log);
      await closeRule(s.client, rule, s.state, s.log);
      expect(s.emu.rules).toEqual([]);
      expect(s.emu.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
      expect(s.state.get(State.ruleRemoved)).toBe("true");
      expect(s.log.lines.at(-1)).toBe(`info: Removed the temporary firewall rule for ${CIDR}.`);
      expect(hasLeftoverRule(s.state)).toBe(false);
      expect(whoRemovesLeftover(s.state)).toMatch(/^remove it by hand/);
      expect(await removeLeftoverRule(s.client, s.state, s.log)).toBe("none");
    });

    it("main: a rule already gone counts as removed; one Scalingo still lists after a 404 is still open, and left to post", async () => {
      const s = await setup();
      // Another rule stays listed: only this rule's id in the list means "still open".
      await s.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: "office VPN" });
      const rule = await open(s);
      await s.client.removeRule(rule.id);
      await closeRule(s.client, rule, s.state, s.log);
      expect(s.log.lines.at(-1)).toBe(`info: The temporary rule for ${CIDR} was already gone.`);

      const stuck = await setup({ deleteNotFoundWhileListed: 1 });
      const open2 = await open(stuck);
      const error = await closeRule(stuck.client, open2, stuck.state, stuck.log).catch((e) => e);
      expect(error).toBeInstanceOf(ActionError);
      expect(error.phase).toBe("firewall");
      expect(error.message).toBe(`Scalingo answered 404 to the removal of rule ${open2.id} (${CIDR}), yet still lists it: the rule is still open`);
      expect(stuck.state.get(State.ruleRemoved)).toBe("");
      expect(whoRemovesLeftover(stuck.state)).toBe("the post step will try again at the end of the job.");
      // Post, later: the DELETE works this time.
      expect(await removeLeftoverRule(stuck.client, stuck.state, stuck.log)).toBe("removed");
      expect(stuck.emu.rules).toEqual([]);
      expect(stuck.log.lines.at(-1)).toBe("info: Removed the temporary firewall rule main left behind.");
    });

    it("post: by the saved id; without one (main died before the answer), by token AND address; else nothing", async () => {
      const s = await setup();
      const rule = await open(s);
      const post = { state: memoryState(s.state.values), log: recordingLog() };
      expect(await removeLeftoverRule(s.client, post.state, post.log)).toBe("removed");
      expect(s.emu.rules).toEqual([]);
      expect(post.state.get(State.ruleRemoved)).toBe("true");
      expect(await removeLeftoverRule(s.client, memoryState({ [State.ruleId]: rule.id }), post.log)).toBe("gone");
      expect(post.log.lines.at(-1)).toMatch(/^info: The temporary firewall rule (main left behind )?was already gone\.$/);

      // Main saved the label, token and address, then died before the POST's answer.
      const died = await setup();
      await died.emu.seedRule({ type: "custom_range", cidr: "198.51.100.9/32", label: own.label.toUpperCase() });
      await died.emu.seedRule({ type: "custom_range", cidr: CIDR, label: own.label.slice(0, 30).toUpperCase() });
      const saved = memoryState({ [State.ruleLabel]: own.label, [State.ruleToken]: own.token, [State.ruleCidr]: CIDR });
      expect(await removeLeftoverRule(died.client, saved, died.log)).toBe("removed");
      expect(died.emu.rules.map((r) => r.cidr)).toEqual(["198.51.100.9/32"]);

      // A user's label (no token): the label but for case, and the address.
      const user = await setup();
      await user.emu.seedRule({ type: "custom_range", cidr: CIDR, label: "Nightly Backup" });
      const byLabel = memoryState({ [State.ruleLabel]: "nightly backup", [State.ruleToken]: "", [State.ruleCidr]: CIDR });
      expect(await removeLeftoverRule(user.client, byLabel, user.log)).toBe("removed");
      expect(user.emu.rules).toEqual([]);

      // Saved, but the POST never made a rule: nothing is touched.
      const none = await setup();
      await none.emu.seedRule({ type: "custom_range", cidr: CIDR, label: "office VPN" });
      expect(
        await removeLeftoverRule(none.client, memoryState({ [State.ruleLabel]: own.label, [State.ruleToken]: own.token, [State.ruleCidr]: CIDR }), none.log),
      ).toBe("none");
      expect(await removeLeftoverRule(none.client, memoryState(), none.log)).toBe("none");
      expect(none.emu.rules).toHaveLength(1);
      expect(none.emu.requests.filter((r) => r.method === "DELETE")).toEqual([]);
    });

    it("post: a rule still listed after a 404 throws, and is not marked removed", async () => {
      const s = await setup({ deleteNotFoundWhileListed: 1 });
      const rule = await open(s);
      const error = await removeLeftoverRule(s.client, memoryState(s.state.values), s.log).catch((e) => e);
      expect(error).toBeInstanceOf(ActionError);
      expect(error.phase).toBe("firewall");
      expect(error.message).toBe(`Scalingo answered 404 to the removal of rule ${rule.id} (${CIDR}), yet still lists it: the rule is still open`);
    });
  });
});
