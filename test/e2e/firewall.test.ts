import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FirewallRule } from "../emulators/scalingo.js";
import { runStep, startStep } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

const LONG_AGO = new Date(Date.now() - 48 * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const OTHER_IP = "198.51.100.9/32";

/** The API promises no order: put `rule` first, where a label-only search would find it first. */
function moveFirst(s: Scenario, rule: FirewallRule): void {
  const rules = s.scalingo.rules;
  rules.splice(rules.indexOf(rule), 1);
  rules.unshift(rule);
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const requestsTo = (s: Scenario, method: string) => s.scalingo.requests.filter((r) => r.method === method && r.path.includes("/firewall_rules"));

// The rule's lifecycle when other rules, other runs and failures are around.
describe("firewall rule lifecycle", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  it("a dead run's stale rule for this very IP is swept, then a new rule is added (not the swept one reused)", async () => {
    // Changes land after a delay, as on Scalingo: the removal lands when the new rule exists, and
    // the address stays allowed (with no delay the emulator would close and reopen it in between).
    const s = await w.scenario({ ruleDelayMs: 2000 });
    const stale = await s.scalingo.seedRule({
      type: "custom_range",
      cidr: "127.0.0.1/32",
      label: `scalingo-pg-dump acme/shop run 9/1 job backup at ${LONG_AGO}`,
    });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", "reachable-timeout": "15" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toContain("Removed stale rule 127.0.0.1/32");
    expect(main.outputs["firewall-rule-id"]).not.toBe(stale.id);
    expect(requestsTo(s, "POST").map((r) => r.status)).toEqual([201]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("the sweep leaves other repositories' rules alone, however old", async () => {
    const s = await w.scenario();
    const other = await s.scalingo.seedRule({ type: "custom_range", cidr: OTHER_IP, label: `scalingo-pg-dump acme/other run 9/1 job backup at ${LONG_AGO}` });
    const ours = await s.scalingo.seedRule({
      type: "custom_range",
      cidr: "198.51.100.10/32",
      label: `scalingo-pg-dump acme/shop run 9/1 job backup at ${LONG_AGO}`,
    });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([other.id]);
    expect(s.scalingo.rules.some((r) => r.id === ours.id)).toBe(false);
  });

  it("post finds main's rule by label AND address: another job's rule with the same label stays", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, upload: "false", "rule-label": "nightly backup" };
    // The rule is created, but the answer arrives only after main is gone.
    s.scalingo.addFault({ method: "POST", path: /\/firewall_rules$/, passThrough: true, delayMs: 30_000 });
    const step = startStep(s.ctx, "main", inputs);
    await until(() => s.scalingo.rules.length > 0, "main's rule");
    step.child.kill("SIGKILL");
    const main = await step.done;
    const label = main.state["rule-label"];
    expect(label).toBe("nightly backup"); // a user's label is sent as given
    const other = await s.scalingo.seedRule({ type: "custom_range", cidr: OTHER_IP, label });
    moveFirst(s, other);
    const post = await runStep(s.ctx, "post", inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([other.id]);
  });

  it("adopting a rule whose creation answer was lost matches label AND address", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, upload: "false", "rule-label": "nightly backup" };
    s.scalingo.addFault({ method: "POST", path: /\/firewall_rules$/, passThrough: true, delayMs: 1500, reset: true });
    const step = startStep(s.ctx, "main", inputs);
    await until(() => s.scalingo.rules.length > 0, "main's rule");
    const other = await s.scalingo.seedRule({ type: "custom_range", cidr: OTHER_IP, label: s.scalingo.rules[0].label });
    moveFirst(s, other);
    const main = await step.done;
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toMatch(/created although its answer was lost/);
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([other.id]);
  });

  it("one 5xx on rule creation, with no rule created, is retried and the backup succeeds", async () => {
    const s = await w.scenario();
    s.scalingo.addFault({ method: "POST", path: /\/firewall_rules$/, status: 503 });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(requestsTo(s, "POST").map((r) => r.status)).toEqual([503, 201]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("main removes its rule once when a later step fails, and claims nothing post will not do", async () => {
    const s = await w.scenario();
    // Both upload attempts fail, after pg_dump ended and the rule was removed.
    w.artifacts.failNext(/FinalizeArtifact$/, 403, 2);
    // Uploads on: they are the later step that fails here.
    const main = await runStep(s.ctx, "main", s.inputs);
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/Uploading the artifact .*failed/);
    expect(requestsTo(s, "DELETE").map((r) => r.status)).toEqual([204]);
    expect(main.stdout).not.toContain("was already gone");
    expect(main.warnings.join("\n")).not.toContain("post step will try again");
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    expect(post.stdout).toContain("No temporary firewall rule left to remove.");
    expect(s.scalingo.rules).toEqual([]);
  });

  it("when main cannot remove its rule, it says post will, and post does", async () => {
    const s = await w.scenario();
    // Every attempt main makes fails (DEFAULT_RETRY.attempts); post's first one works.
    s.scalingo.addFault({ method: "DELETE", path: /\/firewall_rules\//, status: 500, times: 6 });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.warnings.join("\n")).toMatch(/Could not remove the firewall rule now .*the post step will try again/);
    const post = await runStep(s.ctx, "post", { ...s.inputs, upload: "false" }, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
  });
});
