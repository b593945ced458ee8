import { readFile, symlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openManifest } from "../../src/manifest/manifest.js";
import { allWrittenText, runStep, type StepResult } from "../support/runner.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

// The security review's findings that show through the bundled action: each scenario is one
// attacker's or careless user's move, and what the action does about it.
describe("security review, end to end", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  async function expectRefusedBeforeAnything(s: Scenario, inputs: Record<string, string>, message: RegExp): Promise<StepResult> {
    const ipHits = w.ip.hits;
    const main = await runStep(s.ctx, "main", inputs);
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(message);
    expect(s.scalingo.requests).toEqual([]);
    expect(w.ip.hits).toBe(ipHits);
    expect(s.scalingo.rules).toEqual([]);
    return main;
  }

  describe("a public repository", () => {
    it("refuses an unencrypted upload before the firewall opens, with no API call at all", async () => {
      const s = await w.scenario({}, { repositoryPrivate: false });
      const main = await expectRefusedBeforeAnything(
        s,
        s.inputs,
        /`allow-unencrypted-public`: this repository is public.*`encryption-recipients`.*`upload: false`/s,
      );
      // The summary repeats this failure too, and the log ends with what to do.
      expect(main.summary).toMatch(
        /❌ Scalingo PostgreSQL backup failed\n\n\*\*Failed during: Inputs\.\*\* Invalid input:\n\n- `allow-unencrypted-public`: this repository is public/,
      );
      expect(main.stdout.trimEnd().split("\n").at(-1)).toBe("What to do: Fix the inputs named above in the workflow file; nothing was contacted.");
      expect(await s.leftovers()).toEqual([]);
      expect(w.artifacts.artifacts.size).toBe(0);
    });

    it("an invalid input: refused before anything, each problem listed in the summary, the log ending with what to do", async () => {
      const s = await w.scenario();
      const main = await expectRefusedBeforeAnything(s, { ...s.inputs, format: "zip", "reachable-timeout": "5 minutes" }, /`format`: "zip"/);
      expect(main.summary).toContain("**Failed during: Inputs.** Invalid inputs:");
      expect(main.summary).toMatch(/^- `reachable-timeout`: "5 minutes" is not a duration/m);
      expect(main.summary).toMatch(/^- `format`: "zip" is not one of custom, directory, tar, plain/m);
      expect(main.summary).toContain(`\`${w.database}\``);
      expect(main.summary).toContain("**What to do:** Fix the inputs named above");
      expect(main.stdout.trimEnd().split("\n").at(-1)).toMatch(/^What to do: Fix the inputs/);
    });

    it("uploads when the dump is encrypted", async () => {
      const s = await w.scenario({}, { repositoryPrivate: false });
      const identity = await generateIdentity();
      const recipient = await identityToRecipient(identity);
      const main = await runStep(s.ctx, "main", { ...s.inputs, "encryption-recipients": recipient, verify: "restore" });
      expect(main.code, describeStep(main)).toBe(0);
      expect(main.outputs["dump-path"]).toMatch(/\.dump\.age$/);
      // The manifest names tables and counts their rows: encrypted to the same recipients.
      const stored = w.artifacts.artifacts.get(`${main.outputs["artifact-name"]}.manifest.json.age`);
      expect(stored?.finalized).toBe(true);
      const bytes = await readFile(stored?.path as string);
      expect(bytes.toString("latin1")).not.toMatch(/orders|customers/);
      const manifest = await openManifest(bytes, identity);
      expect(manifest.dump).toMatchObject({ sha256: main.outputs["dump-sha256"], encryption: "age" });
      expect(manifest.restoreVerified).toBe(true);
      expect(manifest.tables?.find((t) => t.name === "orders")?.rows).toBe(4000);
      expect(main.warnings.join("\n")).not.toMatch(/public/);
    });

    it("dumps without uploading when upload is false", async () => {
      const s = await w.scenario({}, { repositoryPrivate: false });
      const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
      expect(main.code, describeStep(main)).toBe(0);
      expect(main.outputs["artifact-id"]).toBeUndefined();
      expect(main.warnings.join("\n")).not.toMatch(/public/);
    });

    it("uploads unencrypted only with allow-unencrypted-public: true, and still warns", async () => {
      const s = await w.scenario({}, { repositoryPrivate: false });
      const main = await runStep(s.ctx, "main", { ...s.inputs, "allow-unencrypted-public": "true" });
      expect(main.code, describeStep(main)).toBe(0);
      expect(w.artifacts.artifacts.get(main.outputs["artifact-name"])?.finalized).toBe(true);
      expect(main.warnings.join("\n")).toMatch(/This repository is public .*anyone signed in to GitHub can download the dump artifact/);
      expect(main.summary).toMatch(/\[!WARNING\][\s\S]*repository is public/);
    });

    it("only warns when the event payload does not tell the visibility", async () => {
      const s = await w.scenario({}, { repositoryPrivate: null });
      // Its own artifact name: the default one is per second, and the test above may share its second.
      const main = await runStep(s.ctx, "main", { ...s.inputs, "artifact-name": "unknown-visibility" });
      expect(main.code, describeStep(main)).toBe(0);
      expect(main.warnings.join("\n")).toMatch(/Could not tell .* whether this repository is public/);
    });
  });

  it("packs a directory dump whose folder name starts with '-' (tar reads it as a name, not options)", async () => {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, format: "directory", jobs: "1", path: "-rf-backup" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs["dump-path"]).toBe(path.join(s.ctx.env.GITHUB_WORKSPACE, "-rf-backup.tar"));
    const entries: string[] = [];
    await tar.t({ file: main.outputs["dump-path"], onReadEntry: (e) => entries.push(e.path) });
    expect(entries).toContain("-rf-backup/toc.dat");
  });

  it("refuses a regions list that sends the regional API over plain http, before any token goes there", async () => {
    // An IPv4-mapped IPv6 literal reaches the emulator (so a request would be seen) but is not
    // literal loopback: it stands for any host reached in clear text.
    const s = await w.scenario({ regionUrls: (u) => ({ api: u.api.replace("127.0.0.1", "[::ffff:127.0.0.1]"), dbapi: u.dbapi }) });
    const main = await runStep(s.ctx, "main", s.inputs);
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /Region osc-fr1 in the regions list of `auth-url` has an unsafe URL: "http:\/\/\[::ffff:127\.0\.0\.1\]:\d+" must use https:\/\//,
    );
    expect(s.scalingo.requests.map((r) => `${r.service} ${r.method} ${r.path}`)).toEqual(["auth POST /v1/tokens/exchange", "auth GET /v1/regions"]);
    expect(s.scalingo.rules).toEqual([]);
    expect(leakedSecrets(await allWrittenText(s.ctx, [main]), s.secrets())).toEqual([]);
  });

  describe("a previous backup next to `path`", () => {
    it.each([
      [".age", "custom", {}],
      [".tar", "directory", { format: "directory", jobs: "1" }],
      [".tar.age", "directory", { format: "directory", jobs: "1" }],
    ])("an existing <path>%s (%s format, encrypted) is refused before any API call and left intact", async (suffix, _format, extra) => {
      const s = await w.scenario();
      const recipient = await identityToRecipient(await generateIdentity());
      const inputs = { ...s.inputs, ...extra, "encryption-recipients": recipient, path: "nightly" };
      const previous = path.join(s.ctx.env.GITHUB_WORKSPACE, `nightly${suffix}`);
      await writeFile(previous, "yesterday's backup");
      await expectRefusedBeforeAnything(s, inputs, new RegExp(`\`path\`: .*nightly${suffix.replaceAll(".", "\\.")} already exists`));
      expect(await readFile(previous, "utf8")).toBe("yesterday's backup");
    });

    it("a dangling symlink at <path>.age is refused, and its target never created", async () => {
      const s = await w.scenario();
      const recipient = await identityToRecipient(await generateIdentity());
      const target = path.join(s.ctx.dir, "elsewhere.age");
      await symlink(target, path.join(s.ctx.env.GITHUB_WORKSPACE, "nightly.age"));
      await expectRefusedBeforeAnything(s, { ...s.inputs, "encryption-recipients": recipient, path: "nightly" }, /`path`: .*nightly\.age already exists/);
      await expect(readFile(target)).rejects.toThrow(/ENOENT/);
    });
  });
});
