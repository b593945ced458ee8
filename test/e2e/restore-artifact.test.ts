import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHubApiEmulator, startGitHubApiEmulator } from "../emulators/github-api.js";
import { snapshot } from "../support/fixture.js";
import { allWrittenText, REPO_ROOT, runStep, type StepResult, startStep } from "../support/runner.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

// The restore action downloading the backup action's artifacts from another run, through
// @actions/artifact's findBy and the GitHub REST emulator (run's artifact list, download redirect).
const RESTORE_DIR = path.join(REPO_ROOT, "restore");
const FIXTURE_ROWS = 3000 + 4000 + 1001 + 2000 + 3;

describe("the restore action, from an artifact of another run", () => {
  let w: World;
  let gh: GitHubApiEmulator;
  let plainRun: { runId: string; name: string };
  let encryptedRun: { runId: string; name: string };
  let identity: string;
  let nextId = 5_000_000_001;

  /** A nightly backup (verify: restore, so the manifest counts rows), registered as a run of backup.yml. */
  async function nightly(inputs: Record<string, string>, createdAt: Date): Promise<{ runId: string; name: string }> {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, verify: "restore", ...inputs });
    expect(main.code, describeStep(main)).toBe(0);
    const names = [main.outputs["artifact-name"] as string, main.outputs["manifest-artifact-name"] as string];
    const artifacts = names.map((name) => {
      const stored = w.artifacts.artifacts.get(name);
      if (!stored?.finalized) throw new Error(`artifact ${name} missing`);
      return { id: nextId++, name, path: stored.path, size: stored.size, sha256: stored.sha256 };
    });
    gh.addRun({ id: Number(s.ctx.env.GITHUB_RUN_ID), workflow: "backup.yml", conclusion: "success", createdAt, artifacts });
    return { runId: s.ctx.env.GITHUB_RUN_ID as string, name: names[0] as string };
  }

  beforeAll(async () => {
    w = await startWorld();
    gh = await startGitHubApiEmulator({ owner: "acme", repo: "shop" });
    identity = await generateIdentity();
    plainRun = await nightly({}, new Date("2026-12-03T03:17:00Z"));
    encryptedRun = await nightly({ "encryption-recipients": await identityToRecipient(identity) }, new Date("2026-12-04T03:17:00Z"));
  });
  afterAll(async () => {
    await gh?.close();
    await w?.close();
  });

  async function restoreScenario(): Promise<Scenario> {
    return w.scenario({ roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
  }
  const env = () => ({ GITHUB_API_URL: gh.url });
  const fromRun = (run: { runId: string; name: string }) => ({ "run-id": run.runId, "artifact-name": run.name, "github-token": gh.token });

  it("downloads the artifact of another run and restores it, every table holding the manifest's rows", async () => {
    const s = await restoreScenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...fromRun(plainRun) }, { env: env() });
    const post = await runStep(s.ctx, "post", { ...s.inputs, ...fromRun(plainRun) }, { state: main.state, env: env() });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs.rows).toBe(String(FIXTURE_ROWS));
    expect(await snapshot(w.pg, main.outputs["restored-database"] as string)).toEqual(await snapshot(w.pg, w.dbName));
    expect(gh.requests.map((r) => `${r.method} ${r.path.replace(/\?.*/, "")} ${r.status}`)).toEqual(
      expect.arrayContaining([
        `GET /repos/acme/shop/actions/runs/${plainRun.runId}/artifacts 200`,
        expect.stringMatching(/^GET \/repos\/acme\/shop\/actions\/artifacts\/\d+\/zip 302$/),
        "GET /blobs/<key> 200",
      ]),
    );
    expect(s.scalingo.rules).toEqual([]);
    const everything = await allWrittenText(s.ctx, [main, post]);
    expect(leakedSecrets(everything, [...s.secrets(), gh.token])).toEqual([]);
  });

  it("an encrypted backup: decrypted with the identity, restored; no plaintext left on the runner", async () => {
    const s = await restoreScenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...fromRun(encryptedRun), "decryption-identity": identity }, { env: env() });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs.rows).toBe(String(FIXTURE_ROWS));
    expect(main.masks).toContain(identity);
    const everything = await allWrittenText(s.ctx, [main]);
    expect(leakedSecrets(everything, [identity, gh.token])).toEqual([]);
    expect(everything).not.toMatch(/PGDMP/);
  });

  it("a wrong identity: refused with a clear error, before the firewall opens", async () => {
    const s = await restoreScenario();
    const wrong = await generateIdentity();
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...fromRun(encryptedRun), "decryption-identity": wrong }, { env: env() });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/does not decrypt with `decryption-identity`/);
    expect(s.scalingo.requests).toEqual([]);
  });

  it("latest: true finds the newest successful run of the workflow", async () => {
    const s = await restoreScenario();
    const prefix = "shop-db-123-";
    const main = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, latest: "true", workflow: "backup.yml", "artifact-name": prefix, "github-token": gh.token, "decryption-identity": identity },
      { env: env() },
    );
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toContain(`in run ${encryptedRun.runId}`);
  });

  it("a manifest uploaded under its -retry name (its first upload failed) is found, by run-id and by latest", async () => {
    // The manifest's first upload fails at the blob (its path holds the sha256 of the artifact's name).
    const name = "shop-db-123-20261205T031700Z";
    const manifest = `${name}.dump.manifest.json`;
    w.artifacts.failNext(new RegExp(createHash("sha256").update(manifest).digest("hex")), 403);
    const retried = await nightly({ "artifact-name": name }, new Date("2026-12-05T03:17:00Z"));
    expect(w.artifacts.artifacts.get(`${name}.dump.manifest-retry.json`)?.finalized).toBe(true);
    for (const inputs of [fromRun(retried), { latest: "true", workflow: "backup.yml", "artifact-name": "shop-db-123-", "github-token": gh.token }]) {
      const s = await restoreScenario();
      const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs }, { env: env() });
      expect(main.code, describeStep(main)).toBe(0);
      expect(main.stdout).toContain(`Found ${name}.dump `);
      expect(main.stdout).toContain("each of the 5 table(s) in the manifest holds exactly its rows");
      expect(main.warnings.join("\n")).not.toMatch(/No manifest/);
    }
  });

  it("a corrupted artifact (bytes differ from the manifest's sha256): refused before the firewall opens", async () => {
    const stored = w.artifacts.artifacts.get(plainRun.name);
    const original = await readFile(stored?.path as string);
    try {
      const corrupted = Buffer.from(original);
      corrupted[corrupted.length - 10] ^= 0xff;
      await writeFile(stored?.path as string, corrupted);
      const s = await restoreScenario();
      const main = await runStep(s.ctx, "main", { ...s.inputs, ...fromRun(plainRun) }, { env: env() });
      expect(main.code).not.toBe(0);
      expect(main.errors.join("\n")).toMatch(/sha256 is not the manifest's/);
      expect(s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"))).toEqual([]);
    } finally {
      await writeFile(stored?.path as string, original);
    }
  });

  it("main killed after the rule was added: post removes it", async () => {
    const s = await w.scenario({ roleCreatesDatabases: true, ruleDelayMs: 60_000 }, { actionDir: RESTORE_DIR });
    const step = startStep(s.ctx, "main", { ...s.inputs, ...fromRun(plainRun) }, { env: env() });
    await step.waitFor(/Added firewall rule/, 120_000);
    step.child.kill("SIGKILL");
    const main: StepResult = await step.done;
    expect(s.scalingo.rules.length).toBe(1);
    const post = await runStep(s.ctx, "post", { ...s.inputs, ...fromRun(plainRun) }, { state: main.state, env: env() });
    expect(post.code, describeStep(post)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
    expect(post.stdout).toMatch(/Removed the restore's private folder/);
  });
});
