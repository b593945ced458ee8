// Issue 20: the bundle's default compression (chosen per pg_dump major by the bench) and
// `compress-after` (a directory dump written uncompressed while the rule is open, gzipped after it
// is removed) both give dumps the same major's real pg_restore lists and restores.
import { execFile } from "node:child_process";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_GZIP_LEVEL, DEFAULT_MODERN_COMPRESSION, FIRST_MODERN_MAJOR } from "../../src/postgres/compression.js";
import { snapshot } from "../support/fixture.js";
import { runStep, type StepResult } from "../support/runner.js";
import { describeStep, restoreInto, startWorld, type World } from "./world.js";

describe("compression: the default per pg_dump major, and compress-after", () => {
  let w: World;
  let original: Record<string, string>;
  let restores = 0;
  beforeAll(async () => {
    w = await startWorld();
    original = await snapshot(w.pg, w.dbName);
  });
  afterAll(() => w?.close());

  async function backup(inputs: Record<string, string>): Promise<{ main: StepResult; artifact: string }> {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs });
    expect(main.code, describeStep(main)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
    return { main, artifact: w.artifacts.artifacts.get(main.outputs["artifact-name"])?.path as string };
  }

  /** The archive header's compression line, as the same major's pg_restore --list prints it. */
  async function listedCompression(file: string): Promise<string> {
    const { stdout } = await promisify(execFile)(path.join(w.pg.binDir, "pg_restore"), ["--list", file]);
    return /^;\s+Compression: (.+)$/m.exec(stdout)?.[1]?.trim() ?? "";
  }

  async function expectRestoresTo(file: string, args: string[] = []): Promise<void> {
    const db = `restored_${++restores}`;
    await restoreInto(w.pg, file, db, args);
    expect(await snapshot(w.pg, db)).toEqual(original);
  }

  async function untar(file: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "untar-"));
    await tar.x({ file, cwd: dir });
    const [dumpDir] = await readdir(dir);
    return path.join(dir, dumpDir as string);
  }

  it("with no compress, the custom dump uses the default for this pg_dump major and restores", async () => {
    const { main, artifact } = await backup({});
    const modern = w.pg.major >= FIRST_MODERN_MAJOR;
    // pg_dump 15 prints the gzip level (pg_dump's own default would print -1); 16+ prints the method.
    expect(await listedCompression(artifact)).toBe(modern ? DEFAULT_MODERN_COMPRESSION.split(":")[0] : String(DEFAULT_GZIP_LEVEL));
    expect(main.summary).toContain(
      `| Compression | ${modern ? DEFAULT_MODERN_COMPRESSION : DEFAULT_GZIP_LEVEL} (the action's default for pg_dump ${w.pg.major}) |`,
    );
    await expectRestoresTo(artifact);
  });

  it("compress-after: uncompressed while the rule is open, .dat.gz files after it is removed, listed and restored by pg_restore", async () => {
    const { main, artifact } = await backup({ format: "directory", jobs: "2", "compress-after": "true", "artifact-name": "after" });
    const dir = await untar(artifact);
    const files = await readdir(dir);
    expect(files).toContain("toc.dat");
    expect(files.filter((f) => f.endsWith(".dat.gz")).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.endsWith(".dat") && f !== "toc.dat")).toEqual([]);
    // The table of contents says what pg_dump wrote: uncompressed.
    expect(await listedCompression(dir)).toBe(w.pg.major >= FIRST_MODERN_MAJOR ? "none" : "0");
    // Compressed only once the rule was gone; the rule line still splits into wait, pg_dump and overhead.
    const removed = main.stdout.indexOf("Removed the temporary firewall rule");
    const compressed = main.stdout.indexOf("data file(s) with gzip 6 after the rule was removed");
    expect(removed).toBeGreaterThan(0);
    expect(compressed).toBeGreaterThan(removed);
    expect(main.summary).toMatch(/\| Compress \(rule removed\) \| [\d.]+ s \|/);
    expect(main.summary).toMatch(/wait for the database [\d.]+ s, pg_dump [\d.]+ s, exposure overhead [\d.]+ s/);
    expect(main.summary).toContain("| Compression | gzip 6, after the rule was removed (pg_dump wrote uncompressed) |");
    await expectRestoresTo(dir, ["--jobs=2"]);
    await expectRestoresTo(dir);
  });

  it("compress-after with verify: restore: the restore check restores the .dat.gz files", async () => {
    const { main } = await backup({ format: "directory", "compress-after": "true", compress: "1", verify: "restore", "artifact-name": "after-restore" });
    expect(main.stdout).toContain("data file(s) with gzip 1 after the rule was removed");
    expect(main.summary).toMatch(/\| Restore check \| [\d.]+ s \|/);
    expect(main.outputs["artifact-name"]).toBe("after-restore.tar");
  });
});
