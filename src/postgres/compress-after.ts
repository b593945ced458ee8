import { createReadStream, createWriteStream } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { ActionError, errorMessage } from "../errors.js";

// `compress-after`: pg_dump writes a directory dump uncompressed while the rule is open (the
// server's own pace), and its data files are gzipped here once the rule is removed. pg_restore
// opens `<n>.dat.gz` when `<n>.dat` is missing, whatever the table of contents says about
// compression (cfopen_read in pg_dump 15 and older, InitDiscoverCompressFileHandle from 16), so
// the result restores with the same pg_restore as a dump pg_dump compressed itself.

/** Table data and large objects; toc.dat (read first, and by `pg_restore --list`) stays as pg_dump wrote it. */
export function isDataFile(name: string): boolean {
  return name.endsWith(".dat") && name !== "toc.dat";
}

const CHUNK = 1 << 20;

/** Gzips every data file of `dir` at `level`, `parallel` at a time (zlib runs on libuv's thread pool), largest first. */
export async function compressDataFiles(dir: string, level: number, parallel: number): Promise<{ files: number; bytesBefore: number; bytesAfter: number }> {
  const names = (await readdir(dir)).filter(isDataFile);
  const sized = await Promise.all(names.map(async (name) => ({ file: path.join(dir, name), size: (await stat(path.join(dir, name))).size })));
  sized.sort((a, b) => b.size - a.size);
  let next = 0;
  let bytesAfter = 0;
  const worker = async () => {
    for (let item = sized[next++]; item; item = sized[next++]) bytesAfter += await gzipFile(item.file, level);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, sized.length)) }, worker));
  return { files: sized.length, bytesBefore: sized.reduce((sum, f) => sum + f.size, 0), bytesAfter };
}

/** `<file>.gz` created exclusively and private, then the uncompressed file removed; returns the compressed size. */
async function gzipFile(file: string, level: number): Promise<number> {
  const target = `${file}.gz`;
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: CHUNK }),
      createGzip({ level, chunkSize: CHUNK }),
      createWriteStream(target, { flags: "wx", mode: 0o600 }),
    );
  } catch (error) {
    throw new ActionError("compress", `Could not compress ${path.basename(file)} of the dump: ${errorMessage(error)}.`);
  }
  await unlink(file);
  return (await stat(target)).size;
}
