// The restore action's `s3-uri` source: a backup the backup action stored in S3 (s3rver behind the
// signature-checking front of test/emulators/s3.ts), read with the AWS_* credentials only, its
// manifest sidecar's sha256 compared with the downloaded bytes before the firewall opens.
import * as path from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Emulator, startS3Emulator } from "../emulators/s3.js";
import { snapshot } from "../support/fixture.js";
import { allWrittenText, REPO_ROOT, runStep } from "../support/runner.js";
import { emulatorClient } from "../support/s3-client.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

const RESTORE_DIR = path.join(REPO_ROOT, "restore");
const FIXTURE_ROWS = 3000 + 4000 + 1001 + 2000 + 3;

describe("the restore action, from a backup stored in S3", () => {
  let w: World;
  let s3: S3Emulator;
  let plainUri: string;
  let encryptedUri: string;
  let identity: string;
  const credentials = () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });
  const location = () => ({ "s3-endpoint": s3.endpoint, "s3-region": "eu-west-2" });
  const client = () => emulatorClient(s3);

  /** A nightly backup stored in S3 only (verify: restore, so its manifest counts rows). */
  async function nightly(inputs: Record<string, string>): Promise<string> {
    const s = await w.scenario();
    const main = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, verify: "restore", upload: "false", "s3-url": `s3://${s3.bucket}/nightly/`, ...location(), ...inputs },
      { env: credentials() },
    );
    expect(main.code, describeStep(main)).toBe(0);
    return main.outputs["s3-uri"] as string;
  }

  beforeAll(async () => {
    [w, s3] = await Promise.all([startWorld(), startS3Emulator()]);
    identity = await generateIdentity();
    plainUri = await nightly({});
    encryptedUri = await nightly({ "encryption-recipients": await identityToRecipient(identity) });
  }, 300_000);
  afterAll(async () => {
    await Promise.allSettled([w?.close(), s3?.close()]);
  });

  const restoreScenario = (): Promise<Scenario> => w.scenario({ roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
  const firewallCalls = (s: Scenario) => s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"));
  const keyOf = (uri: string) => uri.replace(`s3://${s3.bucket}/`, "");

  it("downloads the backup and its manifest, checks the sha256, and restores every table as in production", async () => {
    const s = await restoreScenario();
    const from = s3.requests.length;
    const inputs = { ...s.inputs, "s3-uri": plainUri, ...location() };
    const main = await runStep(s.ctx, "main", inputs, { env: credentials() });
    const post = await runStep(s.ctx, "post", inputs, { state: main.state, env: credentials() });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs.rows).toBe(String(FIXTURE_ROWS));
    expect(await snapshot(w.pg, main.outputs["restored-database"] as string)).toEqual(await snapshot(w.pg, w.dbName));
    // Only reads, the manifest first; and no firewall rule was asked for until both were checked.
    expect(s3.requests.slice(from).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /${s3.bucket}/${keyOf(plainUri)}.manifest.json`,
      `GET /${s3.bucket}/${keyOf(plainUri)}`,
    ]);
    expect(main.summary).toContain(plainUri);
    expect(s.scalingo.rules).toEqual([]);
    expect(main.masks).toContain(s3.secretAccessKey);
    const everything = await allWrittenText(s.ctx, [main, post]);
    expect(leakedSecrets(everything, [...s.secrets(), s3.secretAccessKey, s3.accessKeyId])).toEqual([]);
  });

  it("an encrypted backup: the encrypted manifest beside it is read with the identity, the dump decrypted and restored", async () => {
    expect(encryptedUri).toMatch(/\.dump\.age$/);
    const s = await restoreScenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, "s3-uri": encryptedUri, ...location(), "decryption-identity": identity }, { env: credentials() });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs.rows).toBe(String(FIXTURE_ROWS));
    expect(s3.requests.map((r) => r.path)).toContain(`/${s3.bucket}/${keyOf(encryptedUri)}.manifest.json.age`);
  });

  it("an object that is not the one the backup wrote: refused before the firewall opens", async () => {
    // The backup's bytes with one changed, stored under another name beside the original manifest.
    const object = await client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: keyOf(plainUri) }));
    const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff;
    const manifest = await client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${keyOf(plainUri)}.manifest.json` }));
    const tampered = "nightly/replaced-20261205T031700Z.dump";
    await client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: tampered, Body: bytes }));
    await client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${tampered}.manifest.json`, Body: await manifest.Body?.transformToString() }));
    const s = await restoreScenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, "s3-uri": `s3://${s3.bucket}/${tampered}`, ...location() }, { env: credentials() });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/the downloaded bytes' sha256 \(\w{64}\) is not the manifest's .*Nothing was opened/);
    expect(firewallCalls(s)).toEqual([]);
  });

  it("wrong credentials or a missing object: a clear error before the firewall opens", async () => {
    const s = await restoreScenario();
    const wrong = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, "s3-uri": plainUri, ...location() },
      { env: { ...credentials(), AWS_SECRET_ACCESS_KEY: "not-the-secret-0123456789" } },
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.errors.join("\n")).toMatch(/Could not download the manifest .*HTTP 403.*AWS_SECRET_ACCESS_KEY/);
    const missing = await runStep(
      s.ctx,
      "main",
      { ...s.inputs, "s3-uri": `s3://${s3.bucket}/nightly/nothing-here.dump`, ...location() },
      { env: credentials() },
    );
    expect(missing.code).not.toBe(0);
    expect(missing.errors.join("\n")).toMatch(/Could not download s3:\/\/.*nothing-here\.dump: NoSuchKey/);
    expect(firewallCalls(s)).toEqual([]);
  });
});
