import { describe, expect, it } from "vitest";
import { snapshotOptions } from "../src/backup/dump-attempts.js";
import type { Config } from "../src/config.js";

const reachable = { allowPlain: false, serverVersionNum: 170002, attempts: 1, waitedMs: 0 };
const config = (pgDumpArgs: string[]) => ({ pgDumpArgs }) as Config;

describe("the row counts' snapshot reads what pg_dump reads", () => {
  it.each([["--enable-row-security"], ["--enable-row"], ["--enable"]])("row security on with %s, as pg_dump's getopt reads it", (word) => {
    expect(snapshotOptions(config(["--clean", word]), reachable).rowSecurity).toBe(true);
  });
  it("row security off otherwise, as pg_dump sets it", () => {
    expect(snapshotOptions(config(["--clean"]), reachable).rowSecurity).toBe(false);
  });
});
