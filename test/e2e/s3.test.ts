// The S3 destination through the bundled action, as the runner runs it: credentials only in the
// AWS_* environment, a real S3-compatible server on loopback (s3rver behind the signature-checking
// front of test/emulators/s3.ts), the Scalingo emulator's firewall really gating the database.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type S3Emulator, startS3Emulator } from "../emulators/s3.js";
import { allWrittenText, runStep, type StepResult } from "../support/runner.js";
import { emulatorClient } from "../support/s3-client.js";
import { describeStep, leakedSecrets, restoreInto, type Scenario, startWorld, type World } from "./world.js";

describe("S3 destination, end to end", () => {
  let w: World;
  let s3: S3Emulator;
  let scratch: string;
  beforeAll(async () => {
    [w, s3] = await Promise.all([startWorld(), startS3Emulator()]);
    scratch = await mkdtemp(path.join(tmpdir(), "s3-e2e-"));
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled([w?.close(), s3?.close()]);
    await rm(scratch, { recursive: true, force: true });
  });
  afterEach(() => {
    s3.deny = undefined;
  });

  const credentials = () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });
  const s3Inputs = (prefix: string) => ({ "s3-url": `s3://${s3.bucket}/${prefix}/`, "s3-endpoint": s3.endpoint, "s3-region": "eu-west-2" });
  const client = () => emulatorClient(s3);

  function firewallPosts(s: Scenario): number {
    return s.scalingo.requests.filter((r) => r.method === "POST" && r.path.includes("firewall")).length;
  }

  async function expectNoLeak(s: Scenario, steps: StepResult[]): Promise<void> {
    const text = await allWrittenText(s.ctx, steps);
    expect(leakedSecrets(text, [...s.secrets(), s3.secretAccessKey])).toEqual([]);
  }

  it("S3 only (`upload: false`): the dump and its name carry the UTC time, it restores, and nothing goes to the artifact service", async () => {
    const s = await w.scenario();
    const before = w.artifacts.artifacts.size;
    // What the firewall looked like when each S3 request arrived: no rule asked for yet at the
    // preflight, the rule gone again by the upload.
    const seen: string[] = [];
    s3.deny = (r) => {
      seen.push(`${r.method} posts=${firewallPosts(s)} rules=${s.scalingo.rules.length}`);
      return false;
    };
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...s3Inputs("only"), upload: "false", "s3-keep": "daily=7" }, { env: credentials() });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs["s3-uri"]).toMatch(new RegExp(`^s3://${s3.bucket}/only/${w.database}-\\d{8}T\\d{6}Z\\.dump$`));
    expect(main.outputs["s3-deleted"]).toBe("[]");
    expect(main.summary).toContain(`| S3 | \`${main.outputs["s3-uri"]}\` |`);
    expect(w.artifacts.artifacts.size).toBe(before);
    expect(s.scalingo.rules).toEqual([]);
    expect(main.masks).toContain(s3.secretAccessKey);

    // The object is the file, byte for byte, and restores.
    const key = (main.outputs["s3-uri"] as string).replace(`s3://${s3.bucket}/`, "");
    const object = await client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(bytes.equals(await readFile(main.outputs["dump-path"] as string))).toBe(true);
    // The manifest beside it, naming the same bytes.
    const manifest = await client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${key}.manifest.json` }));
    const parsed = JSON.parse((await manifest.Body?.transformToString()) ?? "{}") as { dump: { sha256: string; name: string } };
    expect(parsed.dump.sha256).toBe(main.outputs["dump-sha256"]);
    expect(parsed.dump.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    const file = path.join(scratch, "from-s3.dump");
    await writeFile(file, bytes);
    await restoreInto(w.pg, file, "restored_from_s3");
    expect(await w.pg.psql("SELECT count(*) FROM customers", "restored_from_s3")).toMatch(/\d+/);

    expect(seen.slice(0, 3)).toEqual(["HEAD posts=0 rules=0", "POST posts=0 rules=0", "DELETE posts=0 rules=0"]);
    const puts = seen.filter((x) => x.startsWith("PUT"));
    expect(puts.length).toBeGreaterThanOrEqual(1);
    expect(new Set(puts)).toEqual(new Set(["PUT posts=1 rules=0"]));
    await expectNoLeak(s, [main]);
  }, 180_000);

  it("wrong credentials fail before the firewall opens: no rule is added", async () => {
    const s = await w.scenario();
    const main = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, ...s3Inputs("wrong") },
      { env: { ...credentials(), AWS_SECRET_ACCESS_KEY: "not-the-secret-at-all" } },
    );
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/S3 preflight: cannot reach s3:\/\/backups .*HTTP 403.*AWS_ACCESS_KEY_ID/);
    expect(firewallPosts(s)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
    expect(await s.leftovers()).toEqual([]);
    expect(main.masks).toContain("not-the-secret-at-all");
    const text = await allWrittenText(s.ctx, [main]);
    expect(text).not.toContain("not-the-secret-at-all");
  }, 120_000);

  it("a missing bucket fails before the firewall opens, and osc-secnum-fr1 is warned that the artifact would leave sovereign storage", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, ...s3Inputs("x"), "s3-url": "s3://no-such-bucket/x/", region: "osc-secnum-fr1" };
    const main = await runStep(s.ctx, "main", inputs, { env: credentials() });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/no-such-bucket.*HTTP 404.*Check the bucket name in `s3-url`/);
    expect(main.warnings.join("\n")).toMatch(/osc-secnum-fr1: .*still uploaded as a GitHub artifact.*`upload: false`/);
    expect(firewallPosts(s)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
  }, 120_000);

  it("an S3 failure after the artifact upload fails the step, leaves the artifact, and rotates nothing", async () => {
    const s = await w.scenario();
    const seenBefore = s3.requests.length;
    // Allowed to start and abort (the preflight), refused to store an object.
    s3.deny = (r) => r.method === "PUT" && r.path.includes("/denied/");
    const main = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, ...s3Inputs("denied"), "s3-keep": "daily=1", "artifact-name": "s3-fails-after-artifact" },
      { env: credentials() },
    );
    const during = s3.requests.slice(seenBefore);
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/S3 upload of s3:\/\/backups\/denied\/.* failed: AccessDenied \(HTTP 403/);
    expect(w.artifacts.artifacts.get(main.outputs["artifact-name"] as string)?.finalized).toBe(true);
    expect(main.outputs["s3-uri"]).toBeUndefined();
    expect(s.scalingo.rules).toEqual([]);
    const listed = await client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "denied/" }));
    expect(listed.KeyCount ?? 0).toBe(0);
    // Rotation never ran: no listing, no delete but the preflight's abort.
    const mine = during.filter((r) => r.path.includes("/denied/") || r.query.includes("list-type"));
    expect(mine.filter((r) => r.method === "DELETE" && !r.query.includes("uploadId")).length).toBe(0);
    expect(mine.some((r) => r.query.includes("list-type"))).toBe(false);
    await expectNoLeak(s, [main]);
  }, 180_000);
});
