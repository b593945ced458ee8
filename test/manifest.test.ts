import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dumpMajor,
  isManifestName,
  type Manifest,
  manifestFrom,
  manifestName,
  manifestNames,
  openManifest,
  parseManifest,
  readManifestFile,
  sealManifest,
  writeManifestFile,
} from "../src/manifest/manifest.js";
import { manifestPathFor } from "../src/manifest/record.js";

const SHA = "a".repeat(64);
const source = {
  database: "shop-db-123",
  region: "osc-fr1",
  format: "custom",
  encrypted: false,
  serverVersion: "15.4.0",
  pgDumpVersion: "15",
  dumpSize: 1234,
  sha256: SHA,
  restoreVerified: true,
  restore: { tables: [{ schema: "public", name: "orders", rows: 4000, bytes: 99 }], rows: 4000 },
};

describe("the manifest", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "manifest-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("records what a restore needs, and only counts that were counted", () => {
    const m = manifestFrom(source, { name: "shop.dump", compress: "6", now: new Date("2026-12-05T03:17:00Z") });
    expect(m).toMatchObject({
      manifestVersion: 1,
      createdAt: "2026-12-05T03:17:00.000Z",
      dump: { name: "shop.dump", size: 1234, sha256: SHA, format: "custom", compress: "6", encryption: "none" },
      serverVersion: "15.4.0",
      pgDumpVersion: "15",
      restoreVerified: true,
      tables: [{ schema: "public", name: "orders", rows: 4000 }],
      rows: 4000,
    });
    const uncounted = manifestFrom({ ...source, restore: undefined, restoreVerified: undefined }, { name: "x", now: new Date() });
    expect(uncounted.tables).toBeNull();
    expect(uncounted.rows).toBeNull();
    expect(uncounted.restoreVerified).toBeNull();
    expect(dumpMajor(m)).toBe(15);
  });

  it("is named after the dump, beside it", () => {
    expect(manifestName("db-20261205T031700Z.dump", false)).toBe("db-20261205T031700Z.dump.manifest.json");
    expect(manifestName("db.dump.age", true)).toBe("db.dump.age.manifest.json.age");
    expect(manifestPathFor("/tmp/x/db.tar.age", true)).toBe("/tmp/x/db.tar.age.manifest.json.age");
  });

  it("is found under the name its upload's one retry gives it, and told apart from dumps", () => {
    expect(manifestNames("db-retry.sql.gz")).toEqual([
      "db-retry.sql.gz.manifest.json.age",
      "db-retry.sql.gz.manifest-retry.json.age",
      "db-retry.sql.gz.manifest.json",
      "db-retry.sql.gz.manifest-retry.json",
    ]);
    for (const name of manifestNames("db.dump")) expect(isManifestName(name)).toBe(true);
    for (const name of ["db.dump", "db-retry.dump", "db.tar.age", "manifest.json.sql"]) expect(isManifestName(name)).toBe(false);
  });

  it("round-trips as JSON, in a private file never written over", async () => {
    const m = manifestFrom(source, { name: "a.dump", now: new Date() });
    const file = path.join(dir, "a.dump.manifest.json");
    await writeManifestFile(file, m, []);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readManifestFile(file)).toEqual(m);
    expect(JSON.parse(await readFile(file, "utf8")).dump.sha256).toBe(SHA);
    await expect(writeManifestFile(file, m, [])).rejects.toMatchObject({ code: "EEXIST" });
  });

  it("encrypted to the recipients: no table name in the bytes, opens only with their identity", async () => {
    const identity = await generateIdentity();
    const other = await generateIdentity();
    const m = manifestFrom({ ...source, encrypted: true }, { name: "a.dump.age", now: new Date() });
    const sealed = await sealManifest(m, [await identityToRecipient(identity)]);
    expect(Buffer.from(sealed).toString("latin1")).not.toContain("orders");
    expect(await openManifest(sealed, identity)).toEqual(m);
    await expect(openManifest(sealed)).rejects.toThrow(/encrypted \(age\): set `decryption-identity`/);
    await expect(openManifest(sealed, other)).rejects.toThrow(/does not decrypt with `decryption-identity`/);
  });

  it("refuses what it did not write, saying which field", async () => {
    const good = manifestFrom(source, { name: "a", now: new Date() });
    const bad = (patch: object) => JSON.stringify({ ...good, ...patch });
    expect(() => parseManifest("{")).toThrow(/not JSON/);
    expect(() => parseManifest(bad({ manifestVersion: 2 }))).toThrow(/manifestVersion 2/);
    expect(() => parseManifest(bad({ dump: { ...good.dump, sha256: "xyz" } }))).toThrow(/dump.sha256/);
    expect(() => parseManifest(bad({ dump: { ...good.dump, format: "zip" } }))).toThrow(/dump.format zip/);
    expect(() => parseManifest(bad({ tables: [{ schema: "a", name: "b", rows: -1 }] }))).toThrow(/tables/);
    const file = path.join(dir, "bad.json");
    await writeFile(file, bad({ tables: null }));
    expect((await readManifestFile(file)).tables).toBeNull();
  });

  it("reads the pg_dump major from any version text", () => {
    const m = (v: string) => ({ pgDumpVersion: v }) as Manifest;
    expect(dumpMajor(m("17.2 (Debian 17.2-1)"))).toBe(17);
    expect(dumpMajor(m(""))).toBeUndefined();
  });
});
