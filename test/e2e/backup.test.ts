import { readFile, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readManifestFile } from "../../src/manifest/manifest.js";
import { snapshot } from "../support/fixture.js";
import { allWrittenText, runStep, type StepResult } from "../support/runner.js";
import { describeStep, leakedSecrets, restoreInto, type Scenario, startWorld, type World } from "./world.js";

// The whole action as the runner runs it: bundled dist/, Node 24, INPUT_* variables, file
// commands, then the post step with the state main saved.
describe("a nightly backup, end to end", () => {
  let w: World;
  let s: Scenario;
  let main: StepResult;
  let post: StepResult;
  let requestsByMain: number;

  beforeAll(async () => {
    // The rule takes effect after a delay, as on Scalingo: the action must wait for it.
    w = await startWorld();
    s = await w.scenario({ ruleDelayMs: 1500 });
    main = await runStep(s.ctx, "main", s.inputs);
    requestsByMain = s.scalingo.requests.length;
    post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
  });
  afterAll(() => w?.close());

  it("succeeds in both steps", () => {
    expect(main.code, describeStep(main)).toBe(0);
    expect(post.code, describeStep(post)).toBe(0);
    expect(post.stdout).toContain("No temporary firewall rule left to remove.");
    expect(s.scalingo.requests.length).toBe(requestsByMain); // post is a no-op: not even a call
  });

  it("sets every output", () => {
    const o = main.outputs;
    expect(o["runner-ip"]).toBe("127.0.0.1");
    expect(o["server-version"]).toBe(w.pg.version);
    expect(o["pg-dump-version"]).toBe(String(w.pg.major));
    expect(o["dump-path"]).toMatch(new RegExp(`/scalingo-pg-dump/${w.database}-\\d{8}T\\d{6}Z\\.dump$`));
    expect(o["artifact-name"]).toMatch(new RegExp(`^${w.database}-\\d{8}T\\d{6}Z\\.dump$`));
    expect(Number(o["dump-size"])).toBeGreaterThan(10_000);
    expect(o["dump-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(o["artifact-digest"]).toBe(o["dump-sha256"]);
    expect(Number(o["artifact-id"])).toBeGreaterThan(0);
    expect(o["firewall-rule-id"]).toBeTruthy();
  });

  it("added one rule for the runner's /32, waited for it, and removed it", () => {
    const calls = s.scalingo.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(calls.filter((c) => c.startsWith("POST") && c.includes("/firewall_rules"))).toHaveLength(1);
    expect(calls).toContainEqual(expect.stringMatching(new RegExp(`^DELETE .*/firewall_rules/${main.outputs["firewall-rule-id"]} 204$`)));
    expect(s.scalingo.rules).toEqual([]);
    expect(main.stdout).toMatch(/Database not reachable yet/);
    expect(main.stdout).toMatch(/Removed the temporary firewall rule for 127\.0\.0\.1\/32/);
  });

  it("uploaded exactly the dump's bytes", async () => {
    const stored = w.artifacts.artifacts.get(main.outputs["artifact-name"]);
    expect(stored?.finalized).toBe(true);
    expect(stored?.sha256).toBe(main.outputs["dump-sha256"]);
    expect(await readFile(stored?.path as string)).toEqual(await readFile(main.outputs["dump-path"]));
    expect(stored?.size).toBe(Number(main.outputs["dump-size"]));
  });

  it("uploaded the manifest in its own artifact, named after the dump, with the dump's sha256", async () => {
    const name = `${main.outputs["artifact-name"]}.manifest.json`;
    expect(main.outputs["manifest-artifact-name"]).toBe(name);
    expect(main.outputs["manifest-path"]).toBe(`${main.outputs["dump-path"]}.manifest.json`);
    const stored = w.artifacts.artifacts.get(name);
    expect(stored?.finalized).toBe(true);
    const manifest = await readManifestFile(stored?.path as string);
    expect(manifest.dump).toMatchObject({ name: main.outputs["artifact-name"], sha256: main.outputs["dump-sha256"], format: "custom", encryption: "none" });
    expect(manifest.dump.size).toBe(Number(main.outputs["dump-size"]));
    expect(manifest).toMatchObject({
      database: w.database,
      serverVersion: w.pg.version,
      pgDumpVersion: String(w.pg.major),
      restoreVerified: null,
      tables: null,
    });
    expect(await readFile(main.outputs["manifest-path"])).toEqual(await readFile(stored?.path as string));
    expect(main.summary).toContain(main.outputs["manifest-path"]);
  });

  it("wrote a dump only its owner can read", async () => {
    expect((await stat(main.outputs["dump-path"])).mode & 0o777).toBe(0o600);
  });

  it("restores into a fresh database with the same data", async () => {
    const stored = w.artifacts.artifacts.get(main.outputs["artifact-name"]);
    await restoreInto(w.pg, stored?.path as string, "restored");
    const [original, restored] = await Promise.all([snapshot(w.pg, w.dbName), snapshot(w.pg, "restored")]);
    expect(Object.keys(original).length).toBeGreaterThan(5);
    expect(restored).toEqual(original);
  });

  it("wrote a job summary", () => {
    expect(main.summary).toContain("Scalingo PostgreSQL backup succeeded");
    expect(main.summary).toContain(main.outputs["dump-sha256"]);
    expect(main.summary).toMatch(/removed .*: open \d+\.\d s \(wait for the database \d+\.\d s, pg_dump \d+\.\d s, exposure overhead \d+\.\d s\)/);
  });

  it("never printed or wrote a secret", async () => {
    const everything = await allWrittenText(s.ctx, [main, post]);
    expect(s.secrets().length).toBeGreaterThanOrEqual(4); // API token, password, JWT, addon token
    expect(leakedSecrets(everything, s.secrets())).toEqual([]);
    expect(main.masks).toEqual(expect.arrayContaining([w.apiToken, w.dbPassword]));
  });
});
