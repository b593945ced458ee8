// A dump of several 8 MiB blocks, written by pg_dump over a few seconds: the action uploads the
// blocks while pg_dump writes them, then re-sends the first one, which pg_dump rewrote at the end
// (the custom format's table of contents), and the artifact is still the dump, byte for byte.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "../support/fixture.js";
import { runStep } from "../support/runner.js";
import { describeStep, restoreInto, startWorld, type World } from "./world.js";

describe("a multi-block dump uploaded while pg_dump writes it", () => {
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

  it("stages blocks during the dump, re-stages the rewritten first block, and stores the exact dump", async () => {
    const original = await snapshot(w.pg, w.dbName);
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, compress: "9", "artifact-name": "large" });
    expect(main.code, describeStep(main)).toBe(0);

    const during = /(\d+) of (\d+) blocks were uploaded while pg_dump ran/.exec(main.stdout);
    expect(during, main.stdout).not.toBeNull();
    const [early, blocks] = [Number(during?.[1]), Number(during?.[2])];
    expect(blocks).toBeGreaterThanOrEqual(3);
    expect(early).toBeGreaterThanOrEqual(1);
    // Block 0 went up during the dump (it is the first to fill), then again after pg_dump rewrote it.
    const puts = w.artifacts.requests.filter((r) => r.path.endsWith("?comp=block") && r.status === 201);
    expect(puts.length).toBe(blocks + 1);

    const stored = w.artifacts.artifacts.get("large.dump");
    const dump = await readFile(main.outputs["dump-path"] as string);
    expect(stored?.sha256).toBe(main.outputs["dump-sha256"]);
    expect((await readFile(stored?.path as string)).equals(dump)).toBe(true);
    await restoreInto(w.pg, stored?.path as string, "restored_large");
    expect(await snapshot(w.pg, "restored_large")).toEqual(original);
  }, 120_000);
});
