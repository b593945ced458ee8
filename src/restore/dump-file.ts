import { createReadStream, createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Decrypter } from "age-encryption";
import { ActionError, errorMessage } from "../errors.js";
import { isAgeEncrypted, type Manifest } from "../manifest/manifest.js";
import type { CompressionMethod, DumpFormat } from "../naming.js";
import { type CommandRunner, LONG_TIMEOUT_SECONDS, runCommand } from "../runner/commands.js";
import { removeQuietly } from "../runner/files.js";
import { type HashAhead, sha256Of } from "./hash-ahead.js";

// The dump as pg_restore (or psql) will read it, prepared before the firewall opens: its sha256
// checked against the manifest, decrypted, its format read from its first bytes and, for the
// directory format's tar, unpacked. Every plaintext byte goes to the run's private folder.

/** What the file's first bytes say it is. */
export interface Sniffed {
  format: DumpFormat;
  /** A plain dump's compression (the archive formats compress inside). */
  compression: CompressionMethod;
}

const MAGIC: [Buffer, CompressionMethod][] = [
  [Buffer.from([0x1f, 0x8b]), "gzip"],
  [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), "zstd"],
  [Buffer.from([0x04, 0x22, 0x4d, 0x18]), "lz4"],
];

/** custom starts with PGDMP; a tar has `ustar` at 257 (the directory format's tar holds `<dir>/toc.dat`). */
export function sniff(head: Buffer): Sniffed | undefined {
  if (head.subarray(0, 5).toString("latin1") === "PGDMP") return { format: "custom", compression: "none" };
  if (head.subarray(257, 262).toString("latin1") === "ustar") {
    const first = head.subarray(0, 100).toString("latin1").replace(/\0.*$/s, "");
    return { format: first.includes("/") || !first.endsWith(".dat") ? "directory" : "tar", compression: "none" };
  }
  for (const [magic, compression] of MAGIC) if (head.subarray(0, magic.length).equals(magic)) return { format: "plain", compression };
  const text = head.toString("utf8");
  if (/^(--|SET |CREATE |\\connect|BEGIN)/m.test(text)) return { format: "plain", compression: "none" };
  return undefined;
}

export async function readHead(file: string, bytes = 512): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** sha256 of the file against the manifest's: a dump that is not the one the backup wrote is never restored. */
export async function checkSha256(file: string, manifest: Manifest | undefined, alreadyChecked: boolean, ahead?: HashAhead): Promise<string> {
  // The download hashed the bytes as they came: a second read of a large dump would cost a core for nothing.
  if (manifest && alreadyChecked) return manifest.dump.sha256;
  const sha256 = await sha256Of(file, ahead);
  if (manifest && sha256 !== manifest.dump.sha256)
    throw new ActionError(
      "inputs",
      `The dump's sha256 is ${sha256}, the manifest's ${manifest.dump.sha256}: the file is not the one the backup wrote (corrupted or replaced). Nothing was opened; restore another backup.`,
    );
  return sha256;
}

/** Decrypts an age file into `out` (created here, 0600), as a stream: the dump is never held in memory. */
export async function decryptFile(file: string, out: string, identity: string | undefined): Promise<void> {
  if (!identity)
    throw new ActionError(
      "inputs",
      "`decryption-identity`: the dump is encrypted (age): set it to the secret holding the age identity of one of the backup's recipients.",
    );
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  try {
    const encrypted = Readable.toWeb(createReadStream(file, { highWaterMark: 64 * 1024 })) as unknown as ReadableStream<Uint8Array>;
    const plain = await decrypter.decrypt(encrypted);
    await pipeline(Readable.fromWeb(plain as unknown as WebReadableStream<Uint8Array>), createWriteStream(out, { flags: "wx", mode: 0o600 }));
  } catch (error) {
    await removeQuietly(out);
    const message = errorMessage(error);
    const wrongKey = /no identity matched|identity|stanza|header/i.test(message);
    throw new ActionError(
      "inputs",
      wrongKey
        ? "`decryption-identity` does not decrypt the dump: it is not the identity of any of the backup's recipients. Nothing was opened."
        : `The encrypted dump does not decrypt (${message}): it is damaged. Nothing was opened.`,
    );
  }
}

/** Whether the stored file is age-encrypted, from its first bytes. */
export async function isEncryptedFile(file: string): Promise<boolean> {
  return isAgeEncrypted(await readHead(file, 64));
}

/** The directory format's tar, unpacked into `dir` (private); returns the dump's folder. */
export async function unpackDirectory(file: string, dir: string, run: CommandRunner = runCommand): Promise<string> {
  const list = await run("tar", ["-tf", file], { silent: true, timeoutSeconds: LONG_TIMEOUT_SECONDS });
  const top = [
    ...new Set(
      list.stdout
        .split("\n")
        .filter(Boolean)
        .map((entry) => entry.split("/")[0] as string),
    ),
  ];
  if (list.code !== 0 || top.length !== 1 || !top[0] || top[0] === ".." || top[0].startsWith("/"))
    throw new ActionError("inputs", "The directory dump's tar does not hold exactly one folder: it is not a backup this action wrote.");
  const result = await run("tar", ["-xf", file, "-C", dir, "--no-same-owner", "--no-same-permissions"], { timeoutSeconds: LONG_TIMEOUT_SECONDS });
  if (result.code !== 0) throw new ActionError("inputs", `Unpacking the directory dump's tar failed (exit ${result.code}): ${result.stderr.trim()}`);
  return path.join(dir, top[0]);
}
