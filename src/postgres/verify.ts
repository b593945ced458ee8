import { createReadStream, createWriteStream } from "node:fs";
import * as path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ActionError, errorMessage } from "../errors.js";
import { type CompressionMethod, compressionMethod, type DumpFormat } from "../naming.js";
import { type CommandRunner, LONG_TIMEOUT_SECONDS } from "../runner/commands.js";
import { readTail, removeQuietly } from "../runner/files.js";

const COMPLETE = "-- PostgreSQL database dump complete";
const TAIL_BYTES = 4096;

/**
 * A dump is only worth uploading if it can be read back: archive formats must list their table of
 * contents, a plain dump must end with pg_dump's completion line. pg_dump compresses a plain dump
 * as one stream, so that line is read through the decompression, which also checks the stream.
 */
export async function verifyDump(format: DumpFormat, compress: string | undefined, dumpPath: string, pgDump: string, run: CommandRunner): Promise<string> {
  if (format === "plain") {
    const method = compressionMethod(compress);
    const tail = await plainTail(dumpPath, method, run);
    if (!tail.includes(COMPLETE)) {
      throw new ActionError(
        "verify",
        `The plain dump${method === "none" ? "" : ` (${method})`} does not end with pg_dump's completion line: it is incomplete.`,
      );
    }
    return method === "none" ? "plain SQL dump complete" : `plain SQL dump complete (${method})`;
  }
  const pgRestore = path.join(path.dirname(pgDump), "pg_restore");
  const result = await run(pgRestore, ["--list", dumpPath], { silent: true });
  if (result.code !== 0) throw new ActionError("verify", `pg_restore --list could not read the dump: ${result.stderr.trim()}`);
  const entries = result.stdout.split("\n").filter((l) => l.trim() && !l.startsWith(";"));
  const data = entries.filter((l) => / (TABLE DATA|BLOBS|LARGE OBJECTS?) /.test(l)).length;
  return `${entries.length} archive entries, ${data} with data`;
}

/** The last bytes of the SQL text. gzip is in Node; lz4 and zstd through their own command-line tools. */
export async function plainTail(file: string, method: CompressionMethod, run: CommandRunner): Promise<string> {
  if (method === "none") return readTail(file, TAIL_BYTES);
  const tail = new Tail(TAIL_BYTES);
  if (method === "gzip") {
    try {
      await pipeline(createReadStream(file), createGunzip(), tail.writable());
    } catch (error) {
      throw new ActionError("verify", `The plain dump is not a complete gzip stream: ${errorMessage(error)}.`);
    }
    return tail.text();
  }
  // lz4 and zstd are packaged on every Debian/Ubuntu runner; Node has no lz4, and its zstd is experimental.
  const result = await run(method, ["-d", "-c", file], { silent: true, timeoutSeconds: LONG_TIMEOUT_SECONDS, onStdout: (c) => tail.push(c) });
  if (result.code === 127) {
    throw new ActionError("verify", `Checking a ${method}-compressed plain dump needs the \`${method}\` program: install it, or set \`verify: false\`.`);
  }
  if (result.code !== 0) throw new ActionError("verify", `The plain dump is not a complete ${method} stream: ${result.stderr.trim()}`);
  return tail.text();
}

/**
 * A compressed plain dump, decompressed to `out` for psql (which reads only SQL text): gzip in
 * Node, lz4 and zstd with their own tools. Returns `file` itself when it is not compressed.
 */
export async function decompressedPlain(file: string, compress: string | undefined, out: string, run: CommandRunner): Promise<string> {
  const method = compressionMethod(compress);
  if (method === "none") return file;
  // A broken stream leaves a partial plaintext copy: removed before the failure is reported.
  if (method === "gzip") {
    try {
      await pipeline(createReadStream(file), createGunzip(), createWriteStream(out, { mode: 0o600 }));
    } catch (error) {
      await removeQuietly(out);
      throw new ActionError("restore", `Could not decompress the plain dump (gzip): ${errorMessage(error)}.`);
    }
    return out;
  }
  const args = method === "zstd" ? ["-d", "-q", "-f", "-o", out, file] : ["-d", "-q", "-f", file, out];
  const result = await run(method, args, { silent: true, timeoutSeconds: LONG_TIMEOUT_SECONDS });
  if (result.code !== 0) {
    await removeQuietly(out);
    throw new ActionError("restore", `Could not decompress the plain dump with ${method} (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return out;
}

/** Keeps the last `size` bytes of a stream in one fixed buffer. */
class Tail {
  private readonly buffer: Buffer;
  private length = 0;
  constructor(private readonly size: number) {
    this.buffer = Buffer.alloc(size);
  }
  push(chunk: Buffer): void {
    if (chunk.length >= this.size) {
      chunk.copy(this.buffer, 0, chunk.length - this.size);
      this.length = this.size;
      return;
    }
    const keep = Math.min(this.length, this.size - chunk.length);
    this.buffer.copy(this.buffer, 0, this.length - keep, this.length);
    chunk.copy(this.buffer, keep);
    this.length = keep + chunk.length;
  }
  text(): string {
    return this.buffer.subarray(0, this.length).toString("utf8");
  }
  writable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.push(chunk);
        done();
      },
    });
  }
}
