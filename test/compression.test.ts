// The default compression per pg_dump major (issue 20) and `compress-after`, from the inputs to
// pg_dump's argv. The bench chose the values (docs/decisions.md); these tests hold the action to them.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { InputError } from "../src/errors.js";
import { compressDataFiles, isDataFile } from "../src/postgres/compress-after.js";
import { DEFAULT_GZIP_LEVEL, DEFAULT_MODERN_COMPRESSION, defaultCompression, resolveCompression } from "../src/postgres/compression.js";
import { pgDumpArgs } from "../src/postgres/pg-dump.js";

const env = {
  RUNNER_TEMP: "/runner/tmp",
  GITHUB_WORKSPACE: "/work/ws",
  GITHUB_REPOSITORY: "acme/shop",
  GITHUB_RUN_ID: "7",
  GITHUB_RUN_ATTEMPT: "1",
  GITHUB_JOB: "b",
};
const valid = { "api-token": "tk-us-secret", database: "my-db" };
const parse = (inputs: Record<string, string>) => parseConfig((name) => ({ ...valid, ...inputs })[name] ?? "", env, new Date("2026-12-05T00:00:00Z"), 2);

function problems(inputs: Record<string, string>): string[] {
  try {
    parse(inputs);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems;
  }
  return [];
}

/** The --compress pg_dump receives for these inputs and this pg_dump major (none: undefined). */
function compressArg(inputs: Record<string, string>, major: number): string | undefined {
  const config = parse(inputs);
  const args = pgDumpArgs({ ...config, compress: resolveCompression(config, major).pgDump }, "/tmp/out");
  return args.find((a) => a.startsWith("--compress="))?.slice("--compress=".length);
}

describe("default compression", () => {
  it("is the measured gzip level with pg_dump 15 and older, not pg_dump's own 6", () => {
    expect(DEFAULT_GZIP_LEVEL).toBeGreaterThanOrEqual(1);
    expect(DEFAULT_GZIP_LEVEL).toBeLessThan(6);
    for (const major of [12, 14, 15]) {
      expect(compressArg({}, major)).toBe(String(DEFAULT_GZIP_LEVEL));
      expect(compressArg({ format: "directory" }, major)).toBe(String(DEFAULT_GZIP_LEVEL));
    }
  });

  it("is zstd or lz4 with pg_dump 16 and newer", () => {
    expect(DEFAULT_MODERN_COMPRESSION).toMatch(/^(zstd|lz4)(:\d+)?$/);
    for (const major of [16, 17, 18]) {
      expect(compressArg({}, major)).toBe(DEFAULT_MODERN_COMPRESSION);
      expect(compressArg({ format: "directory", jobs: "2" }, major)).toBe(DEFAULT_MODERN_COMPRESSION);
    }
  });

  it("leaves tar and plain alone: tar cannot be compressed, plain stays the .sql its name says", () => {
    for (const major of [15, 17]) {
      expect(defaultCompression(major, "tar")).toBeUndefined();
      expect(defaultCompression(major, "plain")).toBeUndefined();
      expect(compressArg({ format: "tar" }, major)).toBeUndefined();
      expect(compressArg({ format: "plain" }, major)).toBeUndefined();
    }
    expect(parse({ format: "plain" }).dumpPath).toMatch(/\.sql$/);
  });

  it("never overrides the user's compress, whatever the major", () => {
    expect(compressArg({ compress: "6" }, 15)).toBe("6");
    expect(compressArg({ compress: "0" }, 15)).toBe("0");
    expect(compressArg({ compress: "none" }, 17)).toBe("none");
    expect(compressArg({ compress: "gzip:9" }, 17)).toBe("gzip:9");
    expect(compressArg({ compress: "lz4" }, 16)).toBe("lz4");
  });

  it("says in the summary what was used and whether it was the default", () => {
    expect(resolveCompression(parse({}), 15).description).toBe(`${DEFAULT_GZIP_LEVEL} (the action's default for pg_dump 15)`);
    expect(resolveCompression(parse({}), 17).description).toBe(`${DEFAULT_MODERN_COMPRESSION} (the action's default for pg_dump 17)`);
    expect(resolveCompression(parse({ compress: "9" }), 15).description).toBe("9");
    expect(resolveCompression(parse({ format: "tar" }), 15).description).toBeUndefined();
  });
});

describe("compress-after", () => {
  it("dumps uncompressed and gzips after, at 6 or the compress level", () => {
    expect(parse({ format: "directory", "compress-after": "true" })).toMatchObject({ compressAfter: 6 });
    expect(parse({ format: "directory", "compress-after": "true", compress: "9" }).compress).toBeUndefined();
    expect(parse({ format: "directory", "compress-after": "true", compress: "9" }).compressAfter).toBe(9);
    expect(parse({ format: "directory", "compress-after": "true", compress: "gzip:2" }).compressAfter).toBe(2);
    for (const major of [15, 17]) {
      expect(compressArg({ format: "directory", "compress-after": "true" }, major)).toBe("0");
      expect(resolveCompression(parse({ format: "directory", "compress-after": "true" }), major).afterLevel).toBe(6);
    }
    expect(parse({}).compressAfter).toBeUndefined();
    expect(parse({ format: "directory", "compress-after": "false" }).compressAfter).toBeUndefined();
  });

  it("refuses what it cannot do, naming the input", () => {
    expect(problems({ "compress-after": "true" })).toEqual([expect.stringMatching(/^`compress-after`: .*needs `format: directory` \(format is "custom"\)/)]);
    expect(problems({ format: "plain", "compress-after": "true" })[0]).toMatch(/^`compress-after`:/);
    for (const compress of ["0", "none", "zstd:1", "lz4"])
      expect(problems({ format: "directory", "compress-after": "true", compress })).toEqual([
        expect.stringMatching(/^`compress`: with `compress-after`, ".*" is not a gzip level/),
      ]);
    expect(problems({ format: "directory", "compress-after": "maybe" })[0]).toMatch(/^`compress-after`: "maybe" is not true or false/);
  });
});

describe("compressDataFiles", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("gzips table data and large objects, keeps toc.dat and blobs.toc, and the bytes come back", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "compress-after-"));
    const rows = "1\tsome row\n".repeat(50_000);
    await writeFile(path.join(dir, "toc.dat"), "toc");
    await writeFile(path.join(dir, "blobs.toc"), "16395 blob_16395.dat\n");
    await writeFile(path.join(dir, "3342.dat"), rows);
    await writeFile(path.join(dir, "3343.dat"), "");
    await writeFile(path.join(dir, "blob_16395.dat"), "hello");
    const done = await compressDataFiles(dir, 6, 2);
    expect((await readdir(dir)).sort()).toEqual(["3342.dat.gz", "3343.dat.gz", "blob_16395.dat.gz", "blobs.toc", "toc.dat"]);
    expect(done.files).toBe(3);
    expect(done.bytesAfter).toBeLessThan(done.bytesBefore / 10);
    expect(gunzipSync(await readFile(path.join(dir, "3342.dat.gz"))).toString()).toBe(rows);
    expect(gunzipSync(await readFile(path.join(dir, "blob_16395.dat.gz"))).toString()).toBe("hello");
    expect(await readFile(path.join(dir, "toc.dat"), "utf8")).toBe("toc");
  });

  it("knows a data file from the table of contents", () => {
    expect(isDataFile("4021.dat")).toBe(true);
    expect(isDataFile("blob_1.dat")).toBe(true);
    expect(isDataFile("toc.dat")).toBe(false);
    expect(isDataFile("blobs.toc")).toBe(false);
    expect(isDataFile("4021.dat.gz")).toBe(false);
  });
});
