import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import type { CompressionMethod } from "../src/naming.js";
import { plainTail, verifyDump } from "../src/postgres/verify.js";
import { runCommand } from "../src/runner/commands.js";

// Real compressed files: gzip by Node, lz4 and zstd by their own tools (the formats pg_dump 16+ writes).
const SQL = `--\n-- PostgreSQL database dump\n--\n${"INSERT INTO t VALUES (1);\n".repeat(20_000)}\n--\n-- PostgreSQL database dump complete\n--\n\n`;

describe("verifying a plain dump through its compression", () => {
  let dir: string;
  const files = {} as Record<CompressionMethod, string>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "verify-"));
    files.none = path.join(dir, "db.sql");
    await writeFile(files.none, SQL);
    files.gzip = path.join(dir, "db.sql.gz");
    await writeFile(files.gzip, gzipSync(SQL, { level: 6 }));
    files.lz4 = path.join(dir, "db.sql.lz4");
    execFileSync("lz4", ["-q", files.none, files.lz4]);
    files.zstd = path.join(dir, "db.sql.zst");
    execFileSync("zstd", ["-q", files.none, "-o", files.zstd]);
  });

  it.each([
    ["", "none", "plain SQL dump complete"],
    ["6", "gzip", "plain SQL dump complete (gzip)"],
    ["lz4", "lz4", "plain SQL dump complete (lz4)"],
    ["zstd:3", "zstd", "plain SQL dump complete (zstd)"],
  ] as const)("compress %j: reads the completion line through %s", async (compress, method, said) => {
    expect(await verifyDump("plain", compress || undefined, files[method], "/nowhere/pg_dump", runCommand)).toBe(said);
    expect(await plainTail(files[method], method, runCommand)).toMatch(/dump complete\n--\n\n$/);
  });

  it.each(["gzip", "lz4", "zstd"] as const)("a truncated %s dump fails verification", async (method) => {
    const cut = path.join(dir, `cut-${path.basename(files[method])}`);
    const bytes = await readFile(files[method]);
    await writeFile(cut, bytes);
    await truncate(cut, Math.floor(bytes.length / 2));
    await expect(verifyDump("plain", method === "gzip" ? "6" : method, cut, "/nowhere/pg_dump", runCommand)).rejects.toThrow(
      new RegExp(`not a complete ${method} stream|does not end with pg_dump's completion line`),
    );
  });

  it("a compressed dump without the completion line fails", async () => {
    const partial = path.join(dir, "partial.sql.gz");
    await writeFile(partial, gzipSync(SQL.slice(0, 5000)));
    await expect(verifyDump("plain", "gzip:6", partial, "/nowhere/pg_dump", runCommand)).rejects.toThrow(
      /\(gzip\) does not end with pg_dump's completion line/,
    );
  });
});
