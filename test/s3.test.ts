// The S3 destination against a real S3-compatible server on loopback (s3rver behind the recording,
// signature-checking front of test/emulators/s3.ts): upload, read back, preflight, proxy.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/s3/client.js";
import { planS3, storeInS3 } from "../src/s3/destination.js";
import type { S3Config } from "../src/s3/s3-config.js";
import { partSizeFor } from "../src/s3/upload.js";
import { type S3Emulator, startS3Emulator } from "./emulators/s3.js";
import { startProxy } from "./support/proxy.js";

const MiB = 1024 * 1024;
const quiet = { info: () => undefined, warning: () => undefined };

function configFor(s3: S3Emulator, o: Partial<S3Config> = {}): S3Config {
  return {
    bucket: s3.bucket,
    prefix: "nightly/",
    endpoint: s3.endpoint,
    region: "us-east-1",
    baseName: "shop-db-123-20261205T030000Z",
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    ...o,
  };
}

/** S3's form: the big-endian CRC-32 in base64, over the whole buffer at once (the code computes it chunk by chunk). */
function crc32Of(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out.toString("base64");
}

describe("S3 upload", () => {
  let s3: S3Emulator;
  let dir: string;
  beforeAll(async () => {
    s3 = await startS3Emulator();
    dir = await mkdtemp(path.join(tmpdir(), "s3-test-"));
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sizes parts so any file fits in 10,000 parts of at least 5 MiB", () => {
    expect(partSizeFor(1)).toBe(5 * MiB);
    expect(partSizeFor(48 * 1024 * MiB)).toBe(5 * MiB);
    const size = 200 * 1024 * MiB; // 200 GiB
    expect(Math.ceil(size / partSizeFor(size))).toBeLessThanOrEqual(10_000);
    expect(partSizeFor(size) % MiB).toBe(0);
  });

  it("streams a file of several parts, which reads back byte for byte, with a full-object CRC-32 on completion", async () => {
    const data = randomBytes(23 * MiB + 12_345);
    const file = path.join(dir, "big.dump");
    const manifestFile = `${file}.manifest.json`;
    await writeFile(file, data);
    await writeFile(manifestFile, '{"manifestVersion":1}\n');
    const config = configFor(s3);
    const plan = await planS3(config, quiet);
    const stored = await storeInS3(plan, {
      file,
      size: data.length,
      extension: ".dump",
      manifestFile,
      database: "shop-db-123",
      now: () => new Date(),
      log: quiet,
    });
    expect(stored.uri).toBe(`s3://${s3.bucket}/nightly/shop-db-123-20261205T030000Z.dump`);
    expect(stored.manifestUri).toBe(`${stored.uri}.manifest.json`);

    const client = createS3Client(config);
    const back = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "nightly/shop-db-123-20261205T030000Z.dump" }));
    const bytes = Buffer.from(await (back.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(bytes.equals(data)).toBe(true);
    const manifest = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "nightly/shop-db-123-20261205T030000Z.dump.manifest.json" }));
    expect(await manifest.Body?.transformToString()).toBe('{"manifestVersion":1}\n');

    const parts = s3.requests.filter((r) => r.method === "PUT" && r.query.includes("partNumber="));
    expect(parts.length).toBe(5);
    for (const part of parts) expect(part.headers["x-amz-checksum-crc32"]).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    const complete = s3.requests.find((r) => r.method === "POST" && r.query.includes("uploadId="));
    expect(complete?.headers["x-amz-checksum-crc32"]).toBe(crc32Of(data));
    // A part's checksum differs from the whole object's: the full one is only on the completion.
    expect(parts.map((p) => p.headers["x-amz-checksum-crc32"])).not.toContain(crc32Of(data));
    expect(complete?.headers["x-amz-checksum-type"]).toBe("FULL_OBJECT");
  }, 60_000);

  it("stores a dump whose restore check failed, but rotates nothing away in its favour", async () => {
    const file = path.join(dir, "unverified.dump");
    await writeFile(file, "not restorable");
    const client = createS3Client(configFor(s3));
    const older = "nightly/keepdb-20261101T030000Z.dump";
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: older, Body: "verified" }));
    const config = configFor(s3, { baseName: "keepdb-20261205T030000Z", keep: { daily: 1 } });
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warning: (m: string) => lines.push(m) };
    const store = async (rotate: boolean) => {
      const plan = await planS3(config, quiet);
      try {
        return await storeInS3(plan, { file, size: 14, extension: ".dump", database: "keepdb", rotate, now: () => new Date(), log });
      } finally {
        plan.client.destroy();
      }
    };
    const stored = await store(false);
    expect(stored.uri).toBe(`s3://${s3.bucket}/nightly/keepdb-20261205T030000Z.dump`);
    expect(stored.rotation).toBeUndefined();
    await expect(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: older }))).resolves.toBeDefined();
    expect(lines.join("\n")).toMatch(/Rotation skipped: this dump failed its restore check/);
    // The same call with rotation on does delete it: the case above is not vacuous.
    expect((await store(true)).rotation?.deleted).toEqual([older]);
    client.destroy();
  }, 60_000);
});

describe("S3 Object Lock", () => {
  let s3: S3Emulator;
  let dir: string;
  beforeAll(async () => {
    s3 = await startS3Emulator();
    dir = await mkdtemp(path.join(tmpdir(), "s3-lock-"));
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends the retention with the dump (multipart) and its manifest; the server received it (its enforcement is not emulated)", async () => {
    s3.objectLock = true;
    const data = randomBytes(11 * MiB);
    const file = path.join(dir, "locked.dump.age");
    await writeFile(file, data);
    await writeFile(`${file}.manifest.json.age`, "sealed manifest");
    const config = configFor(s3, { lock: { days: 35, mode: "COMPLIANCE" } });
    const plan = await planS3(config, quiet);
    const at = new Date("2026-12-05T03:10:00Z");
    await storeInS3(plan, {
      file,
      size: data.length,
      extension: ".dump.age",
      manifestFile: `${file}.manifest.json.age`,
      database: "shop-db-123",
      now: () => at,
      log: quiet,
    });
    const until = "2027-01-09T03:10:00Z";
    const dumpKey = "nightly/shop-db-123-20261205T030000Z.dump.age";
    expect(Object.fromEntries(s3.locks)).toEqual({
      [dumpKey]: { mode: "COMPLIANCE", until },
      [`${dumpKey}.manifest.json.age`]: { mode: "COMPLIANCE", until },
    });
    // On the request that creates each object: CreateMultipartUpload for the dump, PUT for the manifest.
    const create = s3.requests.find((r) => r.method === "POST" && r.query === "?uploads=" && r.path.endsWith(".dump.age"));
    expect(create?.headers["x-amz-object-lock-mode"]).toBe("COMPLIANCE");
    // S3 requires a checksum or Content-MD5 with a retention: every write carries one.
    const writes = s3.requests.filter((r) => r.method === "PUT" && r.path.startsWith("/backups/nightly/"));
    for (const w of writes) expect(Object.keys(w.headers).some((h) => h.startsWith("x-amz-checksum-") || h === "content-md5")).toBe(true);
  }, 60_000);
});

describe("S3 preflight", () => {
  let s3: S3Emulator;
  beforeAll(async () => {
    s3 = await startS3Emulator();
  });
  afterAll(() => s3?.close());
  afterEach(() => {
    s3.requests.length = 0;
    s3.objectLock = false;
  });

  it("checks the bucket, then writing with a multipart upload it aborts: nothing is left", async () => {
    await planS3(configFor(s3), quiet);
    expect(s3.requests.map((r) => `${r.method} ${r.query.replace(/=.*/, "=")}`)).toEqual(["HEAD ", "POST ?uploads=", "DELETE ?uploadId="]);
    const list = await createS3Client(configFor(s3)).send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(list.KeyCount ?? 0).toBe(0);
  });

  it("fails on a wrong access key, naming the variables to check", async () => {
    const config = configFor(s3, { credentials: { accessKeyId: "AKIAWRONGWRONGWRONG1", secretAccessKey: s3.secretAccessKey } });
    await expect(planS3(config, quiet)).rejects.toThrow(/HTTP 403.*AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/);
  });

  it("fails on a wrong secret (the front checks the signature: s3rver alone would accept it)", async () => {
    const config = configFor(s3, { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: `${s3.secretAccessKey}x` } });
    await expect(planS3(config, quiet)).rejects.toThrow(/cannot reach .*HTTP 403/);
    // The write check was never reached.
    expect(s3.requests.map((r) => r.method)).toEqual(["HEAD"]);
  });

  it("fails on a missing bucket", async () => {
    await expect(planS3(configFor(s3, { bucket: "no-such-bucket" }), quiet)).rejects.toThrow(/no-such-bucket.*HTTP 404.*Check the bucket name in `s3-url`/);
  });

  it("refuses a lock retention when the bucket has no Object Lock, before any write", async () => {
    const config = configFor(s3, { lock: { days: 30, mode: "GOVERNANCE" } });
    await expect(planS3(config, quiet)).rejects.toThrow(/`s3-object-lock-days`: the bucket backups has no Object Lock/);
    expect(s3.requests.some((r) => r.method === "POST")).toBe(false);
  });
});

describe("S3 behind a proxy", () => {
  let s3: S3Emulator;
  const saved = { ...process.env };
  beforeAll(async () => {
    s3 = await startS3Emulator();
  });
  afterAll(() => s3?.close());
  afterEach(() => {
    for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy"]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it("goes through HTTPS_PROXY/HTTP_PROXY to a name only the proxy resolves, and honours NO_PROXY", async () => {
    const proxy = await startProxy((host) => host === "s3.proxied.test");
    try {
      Object.assign(process.env, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const config = configFor(s3, { endpoint: `http://s3.proxied.test:${s3.port}` });
      await planS3(config, quiet);
      expect(proxy.records.map((r) => r.target)).toContain(`s3.proxied.test:${s3.port}`);
      expect(s3.requests.length).toBeGreaterThan(0);

      process.env.NO_PROXY = "proxied.test";
      const before = proxy.records.length;
      await expect(planS3(config, quiet)).rejects.toThrow(/cannot reach/);
      expect(proxy.records.length).toBe(before);
    } finally {
      await proxy.close();
    }
  });
});
