import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep } from "../support/runner.js";
import { describeStep, startWorld, type World } from "./world.js";

// What Scalingo does not document about its answers, each behind an emulator switch (the
// documented answer is the default): the action survives every plausible one.
describe("Scalingo's undocumented answers", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  it.each(["null", "absent"] as const)("a new database's empty rule list comes back %s: the backup runs", async (emptyLists) => {
    const s = await w.scenario({ emptyLists });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.errors).toEqual([]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("an answer of the wrong shape fails naming the call and its request id, and opens nothing", async () => {
    const s = await w.scenario();
    s.scalingo.addFault({ method: "GET", path: /\/firewall_rules$/, status: 200, body: JSON.stringify({ rules: "none" }), times: 2 });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /GET \/api\/databases\/[^ ]+\/firewall_rules answered 200 with an answer of the wrong shape: "rules" is not a list of objects \(request id [0-9a-f-]{36}\)/,
    );
    expect(main.errors.join("\n")).not.toMatch(/TypeError|Cannot read/);
    expect(s.scalingo.requests.some((r) => r.method === "POST" && r.path.includes("firewall_rules"))).toBe(false);
  });

  it("readable_version in Scalingo's changelog format (17.11.0-1): the server-version output and the summary say major.minor", async () => {
    const s = await w.scenario({ versionSuffix: "-1" });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    const [major, minor] = w.pg.version.split(".");
    expect(main.outputs["server-version"]).toBe(`${major}.${minor}`);
    expect(main.summary).toMatch(new RegExp(`Server version\\s*\\|\\s*${major}\\.${minor}\\s*\\|`));
    expect(main.summary).not.toContain(".0-1");
  });

  it("a DELETE answered 404 while the rule is still listed: main says it is still open, and post removes it", async () => {
    const s = await w.scenario({ deleteNotFoundWhileListed: 1 });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).not.toContain("already gone");
    expect(main.warnings.join("\n")).toMatch(/answered 404 to the removal of rule .*still lists it: the rule is still open.*the post step will try again/);
    expect(s.scalingo.rules).toHaveLength(1);
    const post = await runStep(s.ctx, "post", { ...s.inputs, upload: "false" }, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(post.stdout).toContain("Removed the temporary firewall rule main left behind.");
    expect(s.scalingo.rules).toEqual([]);
  });
});
