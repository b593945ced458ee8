import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

const RECENT = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const inputs = (s: Scenario, more: Record<string, string> = {}) => ({ ...s.inputs, upload: "false", ...more });
const posts = (s: Scenario) => s.scalingo.requests.filter((r) => r.method === "POST" && r.path.endsWith("/firewall_rules"));

// The rule label: Scalingo documents no rule for it, and may trim or normalise what it stores.
describe("firewall rule labels", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  it("a long repository and job name: the default label keeps to 64 characters a strict Scalingo accepts", async () => {
    const s = await w.scenario({ strictLabels: true });
    const env = { GITHUB_REPOSITORY: `acme-corporation-${"x".repeat(60)}/shop-${"y".repeat(80)}`, GITHUB_JOB: `nightly-backup-of-${"z".repeat(80)}` };
    const main = await runStep(s.ctx, "main", inputs(s), { env });
    expect(main.code, describeStep(main)).toBe(0);
    const label = main.state["rule-label"] ?? "";
    expect(label.length).toBeLessThanOrEqual(64);
    expect(label).toMatch(/^scalingo-pg-dump [a-z2-7]{8} [0-9a-f]{8} \d{8}T\d{4}Z [A-Za-z0-9 ._-]*$/);
    expect(main.state["rule-token"]).toBe(label.split(" ")[1]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a user's rule-label is sent as given", async () => {
    const s = await w.scenario({ strictLabels: true });
    const step = runStep(s.ctx, "main", inputs(s, { "rule-label": "nightly backup" }));
    const main = await step;
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.state["rule-label"]).toBe("nightly backup");
    expect(main.stdout).toContain('Added firewall rule 127.0.0.1/32 ("nightly backup")');
  });

  it("a user's rule-label Scalingo refuses (422): the run fails naming the label and the rule assumed, nothing left open", async () => {
    const s = await w.scenario({ strictLabels: true });
    const main = await runStep(s.ctx, "main", inputs(s, { "rule-label": "nightly: shop/db" }));
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /Scalingo refused the rule label "nightly: shop\/db".*at most 64 characters, only letters, digits, space, dot, dash and underscore.*`rule-label`/,
    );
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a lost answer with a Scalingo that trims and upper-cases labels: the rule is found by address and token, and removed", async () => {
    const s = await w.scenario({ normaliseLabel: (label) => label.toUpperCase().slice(0, 40) });
    s.scalingo.addFault({ method: "POST", path: /\/firewall_rules$/, passThrough: true, reset: true });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toMatch(/created although its answer was lost/);
    expect(posts(s).map((r) => r.status)).toEqual([0]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a matrix leg whose POST failed never adopts the rule a sibling leg (same run, job, second and IP) added meanwhile", async () => {
    const s = await w.scenario();
    let sibling = "";
    // The POST fails without creating anything; meanwhile the sibling's rule appears, labelled as
    // the sibling's own run would label it (today's bundle: the same label; now: another token).
    s.scalingo.addFault({
      method: "POST",
      path: /\/firewall_rules$/,
      status: 503,
      meanwhile: async (body) => {
        const label = String(JSON.parse(body).firewall_rule?.label ?? JSON.parse(body).label);
        const siblingLabel = label.replace(/^(scalingo-pg-dump )[a-z2-7]{8} /, "$1zzzzzzzz ");
        sibling = (await s.scalingo.seedRule({ type: "custom_range", cidr: "127.0.0.1/32", label: siblingLabel })).id;
      },
    });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs["firewall-rule-id"]).toBe(sibling);
    // The sibling's rule: used, never removed (the sibling removes it).
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([sibling]);
    expect(main.warnings.join("\n")).toMatch(/already allowlisted by another run of this repository/);
  });

  it("a rule another live run of this repository added for this address: said so, used, never removed", async () => {
    const s = await w.scenario();
    const other = await s.scalingo.seedRule({
      type: "custom_range",
      cidr: "127.0.0.1/32",
      label: `scalingo-pg-dump acme/shop run 5/1 job backup at ${RECENT}`,
    });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.warnings.join("\n")).toMatch(/127\.0\.0\.1\/32 is already allowlisted by another run of this repository .*concurrency group/);
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([other.id]);
  });
});
