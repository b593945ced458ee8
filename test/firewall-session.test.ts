import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, parseConnectionUri } from "../src/postgres/connection.js";
import { waitUntilReachable } from "../src/postgres/reachability.js";
import { Teardown } from "../src/runner/teardown.js";
import { ScalingoClient } from "../src/scalingo/client.js";
import { openFirewall, type RuleRecord, removeLeftoverFirewallRule, withFirewall } from "../src/scalingo/firewall-session.js";
import { parseOwnLabel } from "../src/scalingo/rule-label.js";
import { type ScalingoEmulator, startScalingoEmulator } from "./emulators/scalingo.js";
import { type PgServer, startPostgres } from "./support/postgres.js";

const API_TOKEN = "tk-us-firewall-session";
const DATABASE = "session-db";
const RUN = { runId: "7", attempt: "1", job: "backup" };

const memoryState = () => {
  const saved = new Map<string, string>();
  return { saved, save: (k: string, v: string) => void saved.set(k, v), get: (k: string) => saved.get(k) ?? "" };
};
const quiet = { info: () => undefined, warning: () => undefined };
const recording = () => {
  const lines: string[] = [];
  return { lines, info: (m: string) => void lines.push(`info: ${m}`), warning: (m: string) => void lines.push(`warning: ${m}`) };
};

// The firewall session against the Scalingo emulator, whose rules really gate a PostgreSQL on
// loopback: the database answers only while the rule is there.
describe("firewall session", () => {
  let pg: PgServer;
  let emu: ScalingoEmulator;
  let connection: Connection;

  beforeAll(async () => {
    pg = await startPostgres();
    emu = await startScalingoEmulator({
      apiToken: API_TOKEN,
      databaseId: DATABASE,
      pg,
      dbName: "session_db",
      dbUser: "session_user",
      dbPassword: "s/e@c%r+t",
      sslmode: "",
    });
    connection = parseConnectionUri(`postgres://session_user:${encodeURIComponent("s/e@c%r+t")}@127.0.0.1:${pg.port}/session_db`);
  });
  afterAll(async () => {
    await emu?.close();
    await pg?.stop();
  });

  async function options(teardown: Teardown, state = memoryState()) {
    const client = new ScalingoClient({ authUrl: emu.authUrl, apiToken: API_TOKEN, region: "osc-fr1", database: DATABASE, onSecret: () => undefined });
    await client.connect();
    return { client, rules: { repository: "acme/shop", staleRuleAgeMs: 0, run: RUN }, ip: "127.0.0.1", state, log: quiet, teardown };
  }
  const waitForDb = (signal: AbortSignal) => waitUntilReachable(connection, { timeoutMs: 30_000, log: () => undefined, signal });

  it("opens the rule, waits until the database answers, runs the work, then closes the rule", async () => {
    const teardown = new Teardown(() => undefined);
    const o = await options(teardown);
    let during: (string | undefined)[] = [];
    // The step's report, on which the session records the rule (both actions' outputs and summaries).
    const record: RuleRecord = {};
    const result = await withFirewall({ ...o, record, waitUntilReady: waitForDb }, async (ready, rule) => {
      during = emu.rules.map((r) => r.cidr);
      expect(rule.created).toBe(true);
      // The default label: this repository's, with a token, which the sweep and post recognise.
      expect(parseOwnLabel(rule.label ?? "")?.isRepository("acme/shop")).toBe(true);
      return ready.serverVersionNum;
    });
    expect(result).toBeGreaterThan(100000);
    expect(during).toEqual(["127.0.0.1/32"]);
    expect(emu.rules).toEqual([]);
    expect(o.state.saved.get("rule-removed")).toBe("true");
    expect(teardown.pending).toBe(0);
    expect(record).toMatchObject({ ruleId: o.state.saved.get("rule-id"), ruleCreated: true });
    expect((record.ruleRemovedAt as Date).getTime()).toBeGreaterThanOrEqual((record.ruleAddedAt as Date).getTime());
  });

  it("closes the rule when the work fails, and the failure is the work's", async () => {
    const o = await options(new Teardown(() => undefined));
    await expect(
      withFirewall({ ...o, waitUntilReady: waitForDb }, async () => {
        throw new Error("pg_dump exited with code 1");
      }),
    ).rejects.toThrow("pg_dump exited with code 1");
    expect(emu.rules).toEqual([]);
  });

  it("a teardown while it waits (a cancelled job) stops the wait and removes the rule", async () => {
    const teardown = new Teardown(() => undefined);
    const o = await options(teardown);
    let work = false;
    // A database that never answers: the wait ends only when the teardown aborts it.
    const never = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    const session = withFirewall({ ...o, waitUntilReady: never }, async () => {
      work = true;
    });
    for (let i = 0; i < 500 && emu.rules.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(emu.rules).toHaveLength(1);
    await teardown.run();
    await expect(session).rejects.toThrow(/the run is ending/);
    expect(work).toBe(false);
    expect(emu.rules).toEqual([]);
  });

  it("post removes the rule of a main that never closed it, with only what main saved", async () => {
    const state = memoryState();
    const o = await options(new Teardown(() => undefined), state);
    await openFirewall(o); // main killed here: no close, no teardown
    expect(emu.rules).toHaveLength(1);
    const removed = await removeLeftoverFirewallRule({ connect: async () => o.client, state, log: quiet });
    expect(removed).toBe(true);
    expect(emu.rules).toEqual([]);
    expect(await removeLeftoverFirewallRule({ connect: async () => o.client, state, log: quiet })).toBe(false);
  });

  it("a rule already there for the runner's /32 is used and never removed", async () => {
    const other = await emu.seedRule({ type: "custom_range", cidr: "127.0.0.1/32", label: "office" });
    try {
      const teardown = new Teardown(() => undefined);
      const log = recording();
      const record: RuleRecord = {};
      const o = { ...(await options(teardown)), log, record };
      await withFirewall({ ...o, waitUntilReady: waitForDb }, async (_ready, rule) => {
        expect(rule).toMatchObject({ id: other.id, created: false });
        // Not this job's to undo: nothing is registered for it.
        expect(teardown.pending).toBe(0);
      });
      await teardown.run();
      expect(log.lines).toEqual(['info: A rule for 127.0.0.1/32 already exists ("office"): using it, and leaving it in place.']);
      expect(record).toMatchObject({ ruleId: other.id, ruleCreated: false });
      expect(record.ruleRemovedAt).toBeUndefined();
      expect(emu.rules.map((r) => r.id)).toEqual([other.id]);
      expect(emu.requests.filter((r) => r.method === "DELETE" && r.path.includes(other.id))).toEqual([]);
    } finally {
      emu.rules.splice(0);
      await emu.settle();
    }
  });
  it("says what it added and removed, and warns of nothing, with or without a report to record the rule on", async () => {
    const log = recording();
    const record: RuleRecord = {};
    const o = { ...(await options(new Teardown(() => undefined))), log, record };
    let label = "";
    await withFirewall({ ...o, waitUntilReady: waitForDb }, async (_ready, rule) => {
      label = rule.label ?? "";
    });
    expect(log.lines).toEqual([
      `info: Added firewall rule 127.0.0.1/32 ("${label}"). Scalingo applies it in about two minutes.`,
      "info: Removed the temporary firewall rule for 127.0.0.1/32.",
    ]);
    expect(record.ruleRemovedAt).toBeInstanceOf(Date);
    // Without a report: the same, and no warning.
    const plain = { ...(await options(new Teardown(() => undefined))), log: recording() };
    await withFirewall({ ...plain, waitUntilReady: waitForDb }, async () => undefined);
    expect(plain.log.lines.filter((l) => l.startsWith("warning"))).toEqual([]);
    expect(emu.rules).toEqual([]);
  });

  it("the teardown alone (main's catch, the cancel handler) removes a rule the session opened and never closed", async () => {
    const teardown = new Teardown(() => undefined);
    const o = await options(teardown);
    await openFirewall(o);
    expect(emu.rules).toHaveLength(1);
    await teardown.run();
    expect(emu.rules).toEqual([]);
    expect(o.state.saved.get("rule-removed")).toBe("true");
    expect(teardown.pending).toBe(0);
  });

  it("a run whose teardown has started opens nothing: no call to Scalingo at all", async () => {
    const teardown = new Teardown(() => undefined);
    const o = await options(teardown);
    await teardown.run();
    const before = emu.requests.length;
    await expect(openFirewall(o)).rejects.toThrow(/the run is ending/);
    expect(emu.requests.slice(before)).toEqual([]);
    expect(emu.rules).toEqual([]);
  });

  it("a teardown that runs while the rule is being asked for: the rule that comes after is removed at once, and the session fails", async () => {
    const teardown = new Teardown(() => undefined);
    const log = recording();
    const record: RuleRecord = {};
    const o = { ...(await options(teardown)), log, record };
    const client = o.client;
    let createdAt = 0;
    // The job is cancelled while the POST is on its way: the teardown finds no rule yet.
    const racing = {
      listRules: () => client.listRules(),
      removeRule: (id: string) => client.removeRule(id),
      formOf: (kind: Parameters<typeof client.formOf>[0]) => client.formOf(kind),
      addRule: async (cidr: string, label: string) => {
        await teardown.run();
        const rule = await client.addRule(cidr, label);
        createdAt = Date.now();
        return rule;
      },
    };
    await expect(openFirewall({ ...o, client: racing })).rejects.toThrow(/the run is ending/);
    expect(emu.requests.filter((r) => r.method === "POST")).not.toEqual([]);
    expect(emu.rules).toEqual([]);
    expect(o.state.saved.get("rule-removed")).toBe("true");
    expect(log.lines.some((l) => l.startsWith("info: Added firewall rule"))).toBe(false);
    // Removed by the removal after the POST, not by the teardown's, which found nothing yet.
    expect((record.ruleRemovedAt as Date).getTime()).toBeGreaterThanOrEqual(createdAt);
  });

  it("a removal Scalingo refuses is a warning that leaves the rule to post, never an error of the work", async () => {
    const log = recording();
    const state = memoryState();
    const o = { ...(await options(new Teardown(() => undefined), state)), log };
    emu.addFault({ method: "DELETE", path: /firewall_rules\//, status: 400, body: '{"error":"no"}' });
    await withFirewall({ ...o, waitUntilReady: waitForDb }, async () => undefined);
    expect(log.lines.filter((l) => l.startsWith("warning"))).toEqual([
      expect.stringMatching(/^warning: Could not remove the firewall rule now \(.*\); the post step will try again at the end of the job\.$/),
    ]);
    expect(emu.rules).toHaveLength(1);
    const post = recording();
    expect(await removeLeftoverFirewallRule({ connect: async () => o.client, state, log: post })).toBe(true);
    expect(post.lines).toEqual(["info: Removed the temporary firewall rule main left behind."]);
    expect(emu.rules).toEqual([]);
  });

  it("post connects to Scalingo only when main left a rule, and says so; a main that died before its POST left none to remove", async () => {
    let connects = 0;
    const connect = async () => {
      connects++;
      return (await options(new Teardown(() => undefined))).client;
    };
    const log = recording();
    expect(await removeLeftoverFirewallRule({ connect, state: memoryState(), log })).toBe(false);
    expect(connects).toBe(0);
    expect(log.lines).toEqual(["info: No temporary firewall rule left to remove."]);
    // The label, token and address saved before a POST that never reached Scalingo: nothing to remove.
    const state = memoryState();
    state.save("rule-label", "scalingo-pg-dump acme/shop 7-1 backup 20261206T000000Z tok12345");
    state.save("rule-token", "tok12345");
    state.save("rule-cidr", "127.0.0.1/32");
    expect(await removeLeftoverFirewallRule({ connect, state, log: recording() })).toBe(false);
    expect(connects).toBe(1);
  });
});
