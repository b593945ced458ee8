// A dump of several 8 MiB blocks, written by pg_dump over a few seconds: while it writes, the file
// and its folder are private to the runner's user (the action sets no umask, pg_dump would create
// it 0644); once verified, @actions/artifact uploads it in blocks, and the artifact is the dump,
// byte for byte, and restores.
import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "../support/fixture.js";
import { startStep } from "../support/runner.js";
import { describeStep, restoreInto, startWorld, type World } from "./world.js";

/** The mode of `file` as soon as it exists (pg_dump creates it a moment after it starts). */
async function modeOnceCreated(file: string, timeoutMs = 30_000): Promise<number> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(5)) {
    const found = await stat(file).catch(() => undefined);
    if (found) return found.mode & 0o777;
  }
  throw new Error(`${file} was never created`);
}

describe("a multi-block dump", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    // 15,000 rows of 4 KiB hex: ~60 MiB that gzip level 9 halves at a few MB/s, so pg_dump
    // spends seconds writing four 8 MiB blocks and a tail.
    await w.pg.psql(
      `SET ROLE shop_user;
       CREATE TABLE large_documents AS
       SELECT i AS id, (SELECT string_agg(md5(i || ':' || j), '') FROM generate_series(1, 128) AS j) AS body
       FROM generate_series(1, 15000) AS i;`,
      w.dbName,
    );
  }, 120_000);
  afterAll(() => w?.close());

  it("is private while pg_dump writes it, then uploads in blocks and stores the exact dump", async () => {
    const original = await snapshot(w.pg, w.dbName);
    const s = await w.scenario();
    const dumpPath = path.join(s.ctx.env.RUNNER_TEMP as string, "dumps", "large.dump");
    const step = startStep(s.ctx, "main", { ...s.inputs, compress: "9", path: dumpPath, "artifact-name": "large" });
    await step.waitFor(/Running pg_dump/);
    expect((await modeOnceCreated(dumpPath)).toString(8)).toBe("600");
    expect(((await stat(path.dirname(dumpPath))).mode & 0o777).toString(8)).toBe("700");
    const main = await step.done;
    expect(main.code, describeStep(main)).toBe(0);

    const blocks = w.artifacts.requests.filter((r) => r.path.endsWith("?comp=block") && r.status === 201);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const stored = w.artifacts.artifacts.get("large.dump");
    const dump = await readFile(main.outputs["dump-path"] as string);
    expect(stored?.sha256).toBe(main.outputs["dump-sha256"]);
    expect(stored?.size).toBe(dump.length);
    expect((await readFile(stored?.path as string)).equals(dump)).toBe(true);
    await restoreInto(w.pg, stored?.path as string, "restored_large");
    expect(await snapshot(w.pg, "restored_large")).toEqual(original);
  }, 120_000);
});
