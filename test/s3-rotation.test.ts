// Rotation: restic forget's choice in UTC (pure), then against the real server: 400 nightly
// backups, other databases' and other tools' objects beside them, locked backups, the one just written.
import { PutObjectCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/s3/client.js";
import { chooseKept, parseKeep } from "../src/s3/keep.js";
import { ownBackups } from "../src/s3/keys.js";
import { rotate } from "../src/s3/rotate.js";
import type { S3Config } from "../src/s3/s3-config.js";
import { type S3Emulator, startS3Emulator } from "./emulators/s3.js";

const DAY = 86_400_000;
const quiet = { info: () => undefined, warning: () => undefined };
const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/** 400 nights at 03:00 UTC ending on Saturday 2026-12-05. */
const LAST = Date.UTC(2026, 11, 5, 3, 0, 0);
const NIGHTS = Array.from({ length: 400 }, (_, i) => new Date(LAST - i * DAY));

/**
 * daily=7 weekly=4 monthly=12 on that history, worked out by hand (not by the code under test):
 * the 7 last days; the newest of ISO weeks 49 (Dec 5), 48 (Nov 29), 47 (Nov 22), 46 (Nov 15); the
 * newest of each month from December 2026 back to January 2026.
 */
const EXPECTED = [
  "2026-12-05",
  "2026-12-04",
  "2026-12-03",
  "2026-12-02",
  "2026-12-01",
  "2026-11-30",
  "2026-11-29",
  "2026-11-22",
  "2026-11-15",
  "2026-10-31",
  "2026-09-30",
  "2026-08-31",
  "2026-07-31",
  "2026-06-30",
  "2026-05-31",
  "2026-04-30",
  "2026-03-31",
  "2026-02-28",
  "2026-01-31",
];

describe("s3-keep", () => {
  it("parses daily/weekly/monthly and refuses anything else", () => {
    expect(parseKeep("daily=7 weekly=4 monthly=12")).toEqual({ daily: 7, weekly: 4, monthly: 12 });
    expect(parseKeep("monthly=3,daily=2")).toEqual({ monthly: 3, daily: 2 });
    expect(() => parseKeep("yearly=2")).toThrow(/"yearly=2" is not daily=N/);
    expect(() => parseKeep("daily=0")).toThrow(/keeps nothing/);
    expect(() => parseKeep("daily=1 daily=2")).toThrow(/twice/);
  });

  it("keeps restic's set over 400 nights", () => {
    const kept = chooseKept(NIGHTS, parseKeep("daily=7 weekly=4 monthly=12"));
    expect([...kept].map((t) => new Date(t).toISOString().slice(0, 10))).toEqual(EXPECTED);
  });

  it("counts periods that have a backup, not calendar periods (a gap does not use up a rule)", () => {
    const sparse = [Date.UTC(2026, 11, 5), Date.UTC(2026, 10, 1), Date.UTC(2026, 6, 1)].map((t) => new Date(t));
    expect(chooseKept(sparse, { daily: 3 }).size).toBe(3);
    // Two the same day: only the newer counts for that day.
    const twice = [new Date(Date.UTC(2026, 11, 5, 1)), new Date(Date.UTC(2026, 11, 5, 23)), new Date(Date.UTC(2026, 11, 4, 23))];
    expect([...chooseKept(twice, { daily: 2 })].map((t) => new Date(t).toISOString())).toEqual(["2026-12-05T23:00:00.000Z", "2026-12-04T23:00:00.000Z"]);
  });

  it("recognises only this database's names under the prefix, dump and manifest together", () => {
    const keys = [
      "p/shop-20261205T030000Z.dump",
      "p/shop-20261205T030000Z.dump.manifest.json",
      "p/shop-20261204T030000Z.tar.age",
      "p/shop-20261204T030000Z.tar.age.manifest.json.age",
      "p/shop-db-20261205T030000Z.dump",
      "p/shop-20261205T030000Z.dump.bak",
      "p/other/shop-20261205T030000Z.dump",
      "p/shop-20261399T030000Z.dump",
      "q/shop-20261205T030000Z.dump",
    ];
    expect(ownBackups(keys, "p/", "shop")).toEqual([
      { at: new Date(Date.UTC(2026, 11, 5, 3)), keys: ["p/shop-20261205T030000Z.dump", "p/shop-20261205T030000Z.dump.manifest.json"] },
      { at: new Date(Date.UTC(2026, 11, 4, 3)), keys: ["p/shop-20261204T030000Z.tar.age", "p/shop-20261204T030000Z.tar.age.manifest.json.age"] },
    ]);
  });
});

describe("rotation on the server", () => {
  let s3: S3Emulator;
  let client: S3Client;
  let config: S3Config;
  beforeAll(async () => {
    s3 = await startS3Emulator();
    config = {
      bucket: s3.bucket,
      prefix: "nightly/",
      endpoint: s3.endpoint,
      region: "us-east-1",
      baseName: "unused",
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    client = createS3Client(config);
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
  });

  const put = (key: string) => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: "x" }));
  async function listAll(): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: s3.bucket })) for (const o of page.Contents ?? []) keys.push(o.Key as string);
    return keys.sort();
  }
  async function putAll(keys: string[]): Promise<void> {
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let k = queue.shift(); k; k = queue.shift()) await put(k);
      }),
    );
  }

  it("over 400 nightly backups keeps exactly the expected set, and touches nothing else", async () => {
    const ours = NIGHTS.flatMap((d) => [`nightly/shop-db-123-${stamp(d)}.dump`, `nightly/shop-db-123-${stamp(d)}.dump.manifest.json`]);
    const others = [
      "nightly/shop-db-1234-20250101T030000Z.dump",
      "nightly/other-db-20250101T030000Z.dump",
      "nightly/shop-db-123-20250101T030000Z.dump.partial",
      "nightly/README.txt",
      "elsewhere/shop-db-123-20250101T030000Z.dump",
    ];
    await putAll([...ours, ...others]);
    const written = `nightly/shop-db-123-${stamp(NIGHTS[0] as Date)}.dump`;
    const result = await rotate(client, config, {
      database: "shop-db-123",
      keep: parseKeep("daily=7 weekly=4 monthly=12"),
      written: [written, `${written}.manifest.json`],
      versioned: false,
      now: new Date(LAST + 60_000),
      log: quiet,
    });
    const keptKeys = EXPECTED.flatMap((day) => {
      const base = `nightly/shop-db-123-${day.replace(/-/g, "")}T030000Z.dump`;
      return [base, `${base}.manifest.json`];
    });
    expect(await listAll()).toEqual([...keptKeys, ...others].sort());
    expect(result.deleted.length).toBe((400 - EXPECTED.length) * 2);
    expect(result.locked).toEqual([]);
    expect(result.deleteMarkers).toBe(false);
  }, 180_000);

  it("never deletes the backup just written, and leaves locked backups whole, reporting them", async () => {
    s3.objectLock = true;
    try {
      const base = (day: number) => `nightly/lockdb-202611${String(day).padStart(2, "0")}T030000Z.dump`;
      const keys = [1, 2, 3].flatMap((d) => [base(d), `${base(d)}.manifest.json`]);
      await putAll(keys);
      // Locked: the dump of the 2nd (its manifest is not): the whole backup stays.
      s3.locks.set(base(2), { mode: "GOVERNANCE", until: "2099-01-01T00:00:00.000Z" });
      const lines: string[] = [];
      const result = await rotate(client, config, {
        database: "lockdb",
        keep: { daily: 1 },
        // The oldest is the one "just written" (a clock gone back): it stays all the same.
        written: [base(1), `${base(1)}.manifest.json`],
        versioned: true,
        now: new Date(Date.UTC(2026, 10, 4)),
        log: { info: (m) => lines.push(m), warning: (m) => lines.push(m) },
      });
      expect(result.locked).toEqual([base(2), `${base(2)}.manifest.json`]);
      expect(result.deleted).toEqual([]);
      expect((await listAll()).filter((k) => k.includes("lockdb"))).toEqual(keys.sort());
      expect(result.deleteMarkers).toBe(true);
      expect(lines.join("\n")).toMatch(/2 locked object\(s\) left in place/);
    } finally {
      s3.objectLock = false;
    }
  }, 60_000);
});
