import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep, startStep } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

/** Database-API calls (details and rules), as `<service> <method> <status>`. */
const databaseCalls = (s: Scenario) =>
  s.scalingo.requests
    .filter((r) => r.path.startsWith("/api/databases/"))
    .map((r) => `${r.service} ${r.method} ${r.path.includes("firewall") ? "rules" : "db"} ${r.status}`);

/** Uploads are not the point here (and two runs in one second would want one artifact name). */
const inputs = (s: Scenario) => ({ ...s.inputs, upload: "false" });

/** Main with a rule that never takes effect, killed once the rule is added; then post. */
function killedMainThenPost(s: Scenario) {
  return killedMainThenPostWith(s, () => undefined);
}

/** The same, with `between` changing the emulator after main died. */
async function killedMainThenPostWith(s: Scenario, between: () => void) {
  const step = startStep(s.ctx, "main", inputs(s));
  await step.waitFor(/Added firewall rule/, 30_000);
  step.child.kill("SIGKILL");
  const main = await step.done;
  between();
  expect(s.scalingo.rules).toHaveLength(1);
  const before = s.scalingo.requests.length;
  const post = await runStep(s.ctx, "post", inputs(s), { state: main.state });
  expect(post.code, describeStep(post)).toBe(0);
  expect(s.scalingo.rules).toEqual([]);
  return { main, post, postCalls: s.scalingo.requests.slice(before).filter((r) => r.path.startsWith("/api/")) };
}

// Scalingo is moving the database API from its own host (addon token) to the regional API host
// (the user's bearer, wrapped bodies): the action works with either, and with both.
describe("both forms of the database API", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  it("only the regional form (the old host is gone): backup, and post removes a killed main's rule", async () => {
    const s = await w.scenario({ databaseApi: "regional" });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(databaseCalls(s)).toEqual([
      "dbapi GET db 404",
      "api GET db 200",
      "dbapi GET rules 404",
      "api GET rules 200",
      "api POST rules 201",
      "api DELETE rules 204",
    ]);
    expect(s.scalingo.rules).toEqual([]);

    const k = await w.scenario({ databaseApi: "regional", ruleDelayMs: 60_000 });
    const { main: killed, postCalls } = await killedMainThenPost(k);
    expect(killed.state["firewall-api"]).toBe("regional");
    expect(postCalls.map((r) => `${r.service} ${r.method} ${r.status}`)).toEqual(["api DELETE 204"]);
  });

  it("a regions list without the old database API host: the regional form, and no fallback to try", async () => {
    const s = await w.scenario({ databaseApi: "regional", regionUrls: (u) => ({ api: u.api }) });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(databaseCalls(s)).toEqual(["api GET db 200", "api GET rules 200", "api POST rules 201", "api DELETE rules 204"]);
    expect(s.scalingo.requests.some((r) => r.path.endsWith("/token"))).toBe(false); // no addon token needed
  });

  it("only the database API host's form: used first, since the regions list names it, and post uses what main used", async () => {
    const s = await w.scenario({ databaseApi: "legacy" });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(databaseCalls(s)).toEqual(["dbapi GET db 200", "dbapi GET rules 200", "dbapi POST rules 201", "dbapi DELETE rules 204"]);

    const k = await w.scenario({ databaseApi: "legacy", ruleDelayMs: 60_000 });
    const { main: killed, postCalls } = await killedMainThenPost(k);
    expect(killed.state["firewall-api"]).toBe("legacy");
    // No probe: a DELETE's 404 on a host that does not serve the route would pass for "already gone".
    expect(postCalls.map((r) => `${r.service} ${r.method} ${r.status}`)).toEqual(["dbapi DELETE 204"]);
  });

  it("both forms served: the database API host's form first (the regions list names it), as Scalingo's Go client and CLI call it", async () => {
    const s = await w.scenario({ databaseApi: "both" });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(databaseCalls(s)).toEqual(["dbapi GET db 200", "dbapi GET rules 200", "dbapi POST rules 201", "dbapi DELETE rules 204"]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("the regional host answers 403 while the database API host serves the rules: the backup runs", async () => {
    const s = await w.scenario({ refuseForm: { form: "regional", status: 403 } });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(databaseCalls(s).filter((c) => c.startsWith("api "))).toEqual([]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it.each([403, 401] as const)(
    "the database API host answers %i: the regional form is tried before the run fails (a 401 renews the token first)",
    async (status) => {
      const s = await w.scenario({ refuseForm: { form: "legacy", status } });
      const main = await runStep(s.ctx, "main", inputs(s));
      expect(main.code, describeStep(main)).toBe(0);
      const refused = status === 401 ? [`dbapi GET db 401`, `dbapi GET db 401`] : [`dbapi GET db 403`];
      const rulesRefused = refused.map((c) => c.replace(" db ", " rules "));
      expect(databaseCalls(s)).toEqual([...refused, "api GET db 200", ...rulesRefused, "api GET rules 200", "api POST rules 201", "api DELETE rules 204"]);
      const tokens = s.scalingo.requests.filter((r) => r.path.endsWith("/token")).length;
      expect(tokens).toBe(status === 401 ? 3 : 1); // 401: renewed before each form change (details, then rules)
      expect(s.scalingo.rules).toEqual([]);
    },
  );

  it("every form refuses: the run fails naming both refusals, before any rule is added", async () => {
    const s = await w.scenario({ databaseApi: "legacy", refuseForm: { form: "legacy", status: 403 } });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /Both forms of the database API refused the call: GET \/api\/databases\/\S+ answered 403.*; GET \/api\/databases\/\S+ answered 404/,
    );
    expect(s.scalingo.rules).toEqual([]);
  });

  it("post's DELETE goes to the other form only after a definite refusal (403), never after a 5xx", async () => {
    const k = await w.scenario({ ruleDelayMs: 60_000 });
    const { main: killed } = await killedMainThenPostWith(k, () => k.scalingo.refuseForm({ form: "legacy", status: 403 }));
    expect(killed.state["firewall-api"]).toBe("legacy");
    expect(k.scalingo.requests.filter((r) => r.method === "DELETE").map((r) => `${r.service} ${r.status}`)).toEqual(["dbapi 403", "api 204"]);

    const f = await w.scenario({ ruleDelayMs: 60_000 });
    f.scalingo.addFault({ service: "dbapi", method: "DELETE", path: /\/firewall_rules\//, status: 502, times: 6 });
    const step = startStep(f.ctx, "main", inputs(f));
    await step.waitFor(/Added firewall rule/, 30_000);
    step.child.kill("SIGKILL");
    const main = await step.done;
    const post = await runStep(f.ctx, "post", inputs(f), { state: main.state });
    expect(post.code, describeStep(post)).toBe(1);
    expect(f.scalingo.requests.filter((r) => r.method === "DELETE").map((r) => r.service)).toEqual(Array(6).fill("dbapi"));
    expect(f.scalingo.rules).toHaveLength(1);
  });

  // The old form after a dump longer than the addon token's life: what the expired token gets is
  // not documented, so the token is renewed from its expiry before the DELETE, whatever the status.
  it.each([401, 403, 400] as const)("main removes its rule after its addon token expired (expired token answered %i)", async (status) => {
    const s = await w.scenario({ databaseApi: "legacy", addonTokenLifetimeSeconds: 2, expiredAddonTokenStatus: status, ruleDelayMs: 3000 });
    const main = await runStep(s.ctx, "main", inputs(s));
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toContain("Removed the temporary firewall rule");
    expect(main.warnings.join("\n")).not.toMatch(/Could not remove/);
    expect(s.scalingo.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([204]);
    expect(s.scalingo.rules).toEqual([]);
  });
});
