import { execFileSync } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { gunzipSync } from "node:zlib";
import { Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "../support/fixture.js";
import { runStep, type StepResult } from "../support/runner.js";
import { describeStep, restoreInto, type Scenario, startWorld, type World } from "./world.js";

describe("formats, compression, encryption", () => {
  let w: World;
  let original: Record<string, string>;
  let restores = 0;
  beforeAll(async () => {
    w = await startWorld();
    original = await snapshot(w.pg, w.dbName);
  });
  afterAll(() => w?.close());

  async function backup(
    inputs: Record<string, string>,
    runner?: { repositoryPrivate?: boolean | null },
  ): Promise<{ s: Scenario; main: StepResult; artifact: string }> {
    const s = await w.scenario({}, runner);
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs });
    expect(main.code, describeStep(main)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
    const stored = w.artifacts.artifacts.get(main.outputs["artifact-name"]);
    expect(stored?.sha256).toBe(main.outputs["dump-sha256"]);
    return { s, main, artifact: stored?.path as string };
  }

  async function expectRestoresTo(file: string, args: string[] = []) {
    const db = `restored_${++restores}`;
    await restoreInto(w.pg, file, db, args);
    expect(await snapshot(w.pg, db)).toEqual(original);
  }

  it("directory format with 2 jobs: one uncompressed tar, restorable in parallel", async () => {
    const { main, artifact } = await backup({ format: "directory", jobs: "2" });
    expect(main.outputs["artifact-name"]).toMatch(/^shop-db-123-\d{8}T\d{6}Z\.tar$/);
    expect(main.outputs["dump-path"]).toMatch(/\.tar$/);
    const dir = await mkdtemp(path.join(tmpdir(), "untar-"));
    await tar.x({ file: artifact, cwd: dir });
    const [dumpDir] = await readdir(dir);
    expect(await readFile(path.join(dir, dumpDir, "toc.dat"))).toBeTruthy();
    await expectRestoresTo(path.join(dir, dumpDir), ["--jobs=2"]);
  });

  it("tar format", async () => {
    const { main, artifact } = await backup({ format: "tar" });
    expect(main.outputs["artifact-name"]).toMatch(/\.tar$/);
    await expectRestoresTo(artifact);
  });

  it("plain format, verified by its completion line, restorable with psql", async () => {
    const { main, artifact } = await backup({ format: "plain", "artifact-name": "nightly-plain" });
    expect(main.outputs["artifact-name"]).toBe("nightly-plain.sql");
    expect(main.summary).toContain("plain SQL dump complete");
    const db = `restored_${++restores}`;
    await w.pg.createDatabase(db);
    // pg.psql sends SQL, not a script: drop the \restrict meta-commands recent pg_dumps add.
    await w.pg.psql((await readFile(artifact, "utf8")).replace(/^\\restrict.*$|^\\unrestrict.*$/gm, ""), db);
    expect(await snapshot(w.pg, db)).toEqual(original);
  });

  it("plain format with compress 6: a .sql.gz, verified through gzip, restorable with gunzip | psql", async () => {
    const { main, artifact } = await backup({ format: "plain", compress: "6" });
    expect(main.outputs["artifact-name"]).toMatch(/^shop-db-123-\d{8}T\d{6}Z\.sql\.gz$/);
    expect(main.outputs["dump-path"]).toMatch(/\.sql\.gz$/);
    expect(main.summary).toContain("plain SQL dump complete (gzip)");
    const db = `restored_${++restores}`;
    await w.pg.createDatabase(db);
    const sql = gunzipSync(await readFile(artifact)).toString("utf8");
    await w.pg.psql(sql.replace(/^\\restrict.*$|^\\unrestrict.*$/gm, ""), db);
    expect(await snapshot(w.pg, db)).toEqual(original);
  });

  it("custom format with compress 0: a larger, still restorable dump", async () => {
    // Named apart: two backups within one second would get the same default artifact name.
    const compressed = await backup({ "artifact-name": "default-level" });
    const { main, artifact } = await backup({ compress: "0" });
    expect(Number(main.outputs["dump-size"])).toBeGreaterThan(Number(compressed.main.outputs["dump-size"]));
    await expectRestoresTo(artifact);
  });

  // Debian 12 has PostgreSQL 15 (zstd refused); Ubuntu 24.04, on GitHub's runners, has 16 (zstd works).
  it("zstd: refused before opening anything with a pg_dump older than 16, a restorable dump from 16 on", async () => {
    if (w.pg.major < 16) {
      const s = await w.scenario();
      const main = await runStep(s.ctx, "main", { ...s.inputs, compress: "zstd:3" });
      expect(main.code).toBe(1);
      expect(main.errors.join("\n")).toMatch(new RegExp(`\`compress\`: "zstd:3" needs pg_dump 16 or later \\(this one is ${w.pg.major}\\)`));
      expect(s.scalingo.requests.some((r) => r.method === "POST" && r.path.includes("firewall"))).toBe(false);
    } else {
      const { artifact } = await backup({ compress: "zstd:3" });
      await expectRestoresTo(artifact);
    }
  });

  it("encrypts for age recipients: the artifact is ciphertext that decrypts and restores", async () => {
    const identity = await generateIdentity();
    const other = await identityToRecipient(await generateIdentity());
    const { main, artifact } = await backup({ "encryption-recipients": `${await identityToRecipient(identity)}\n${other}` }, { repositoryPrivate: false });
    expect(main.outputs["artifact-name"]).toMatch(/\.dump\.age$/);
    expect(main.outputs["dump-path"]).toMatch(/\.dump\.age$/);
    const head = (await readFile(artifact)).subarray(0, 64).toString("latin1");
    expect(head).toMatch(/^age-encryption\.org\/v1\n-> X25519 /);
    expect(main.warnings.join("\n")).not.toMatch(/public/);
    expect(main.summary).toContain("yes (age)");
    // Decrypt as the README shows, streaming.
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    const plain = path.join(await mkdtemp(path.join(tmpdir(), "age-")), "db.dump");
    const decrypted = await decrypter.decrypt(Readable.toWeb(createReadStream(artifact)) as unknown as ReadableStream<Uint8Array>);
    await pipeline(Readable.fromWeb(decrypted as unknown as WebReadableStream<Uint8Array>), createWriteStream(plain));
    await expectRestoresTo(plain);
  });

  it("pg-dump-extra-args adds to the defaults: one table's data left out, the rest restored; the log names the artifact and its link", async () => {
    const { s, main, artifact } = await backup({ "pg-dump-extra-args": "--exclude-table-data=app.events" });
    const toc = execFileSync(path.join(w.pg.binDir, "pg_restore"), ["--list", artifact], { encoding: "utf8" });
    expect(toc).toMatch(/ TABLE app events /);
    expect(toc).not.toMatch(/ TABLE DATA app events /);
    expect(toc).toMatch(/ TABLE DATA public orders /);
    expect(main.warnings.join("\n")).not.toContain("pg-dump-args");
    const db = `restored_${++restores}`;
    await restoreInto(w.pg, artifact, db);
    expect(await snapshot(w.pg, db)).toEqual({ ...original, "table:app.events": "0 -" });
    // The output and the last line point at the kept artifact, not only the runner's temp file.
    const url = main.outputs["artifact-url"];
    const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = s.ctx.env;
    expect(url).toBe(
      `${GITHUB_SERVER_URL ?? "https://github.com"}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}/artifacts/${main.outputs["artifact-id"]}`,
    );
    expect(main.stdout).toContain(`Backup done: artifact ${main.outputs["artifact-name"]} ${url} (`);
  });

  it("a replacing pg-dump-args that drops default flags is warned about, by name", async () => {
    const { main } = await backup({ "pg-dump-args": "--clean --if-exists --exclude-table-data=app.events", "artifact-name": "replacing" });
    expect(main.warnings.join("\n")).toMatch(
      /`pg-dump-args` replaces the default arguments, and --no-owner --no-privileges --no-comments .* are not among yours/,
    );
  });

  it("upload false keeps the dump on the runner, hashed, and uploads nothing", async () => {
    const before = w.artifacts.artifacts.size;
    const { main } = await backupWithoutUpload();
    expect(w.artifacts.artifacts.size).toBe(before);
    expect(main.outputs["artifact-id"]).toBeUndefined();
    expect(main.outputs["dump-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    await expectRestoresTo(main.outputs["dump-path"]);
  });

  async function backupWithoutUpload() {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", verify: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.summary).not.toContain("archive entries");
    return { s, main };
  }
});
