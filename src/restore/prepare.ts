import { mkdtemp } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { dumpMajor, type Manifest, ManifestError, manifestNames, readManifestFile } from "../manifest/manifest.js";
import type { CompressionMethod, DumpFormat } from "../naming.js";
import { decompressedPlain } from "../postgres/verify.js";
import type { CommandRunner } from "../runner/commands.js";
import { exists } from "../runner/files.js";
import { checkSha256, decryptFile, isEncryptedFile, readHead, sniff, unpackDirectory } from "./dump-file.js";
import type { HashAhead } from "./hash-ahead.js";

/** A dump on the runner, with its manifest when one was found beside it. */
export interface ObtainedDump {
  /** The file as stored (encrypted when the backup encrypted it). */
  file: string;
  /** Its name as the backup gave it (the artifact's, or the file's). */
  name: string;
  manifest?: Manifest;
  /** The download already compared the bytes' sha256 with the manifest's. */
  sha256Checked: boolean;
}

/** What pg_restore (or psql) reads, and what is known about it: all of it before the firewall opens. */
export interface PreparedDump {
  /** The file (or, for the directory format, the folder) to restore. */
  source: string;
  format: DumpFormat;
  compression: CompressionMethod;
  encrypted: boolean;
  sha256: string;
  /** The major of the pg_dump that wrote it (from the manifest), when known. */
  major?: number;
  manifest?: Manifest;
}

/** A private folder for downloads and plaintext (0700), in RUNNER_TEMP; the caller removes it on every path. */
export async function privateFolder(tempDir: string): Promise<string> {
  return mkdtemp(path.join(tempDir, "scalingo-pg-dump-restore-"));
}

/** `path`: the file, and its manifest beside it (`<file>.manifest.json[.age]`) when there is one. */
export async function obtainLocal(file: string, identity: string | undefined): Promise<ObtainedDump> {
  if (!(await exists(file))) throw new ActionError("inputs", `\`path\`: ${file} does not exist.`);
  // Beside it under any of its names (a manifest downloaded by hand keeps its artifact's `-retry` name).
  for (const name of manifestNames(path.basename(file))) {
    const candidate = path.join(path.dirname(file), name);
    if (await exists(candidate)) return { file, name: path.basename(file), manifest: await openManifestFile(candidate, identity), sha256Checked: false };
  }
  return { file, name: path.basename(file), sha256Checked: false };
}

export async function openManifestFile(file: string, identity: string | undefined): Promise<Manifest> {
  try {
    return await readManifestFile(file, identity);
  } catch (error) {
    if (error instanceof ManifestError) throw new ActionError("inputs", `${path.basename(file)}: ${error.message} Nothing was opened.`);
    throw error;
  }
}

/** sha256, decryption, format, unpacking: everything that can fail without a connection. */
export async function prepareDump(
  dump: ObtainedDump,
  o: { identity?: string | undefined; folder: string; run: CommandRunner; ahead?: HashAhead | undefined },
): Promise<PreparedDump> {
  const { manifest } = dump;
  const sha256 = await checkSha256(dump.file, manifest, dump.sha256Checked, o.ahead);
  const encrypted = await isEncryptedFile(dump.file);
  let file = dump.file;
  if (encrypted) {
    file = path.join(o.folder, "dump.decrypted");
    await decryptFile(dump.file, file, o.identity);
  }
  const sniffed = sniff(await readHead(file));
  if (!sniffed) throw new ActionError("inputs", `${dump.name} is not a PostgreSQL dump (custom, directory tar, tar or plain SQL) this action can restore.`);
  if (manifest && manifest.dump.format !== sniffed.format && !(manifest.dump.format === "tar" && sniffed.format === "directory"))
    throw new ActionError(
      "inputs",
      `${dump.name} reads as a ${sniffed.format} dump, but its manifest says ${manifest.dump.format}: it is not the file the backup wrote.`,
    );
  const format = manifest?.dump.format ?? sniffed.format;
  let source = file;
  if (format === "directory") source = await unpackDirectory(file, o.folder, o.run);
  if (format === "plain" && sniffed.compression !== "none") source = await decompressedPlain(file, sniffed.compression, path.join(o.folder, "dump.sql"), o.run);
  const major = manifest ? dumpMajor(manifest) : undefined;
  return { source, format, compression: sniffed.compression, encrypted, sha256, ...(major ? { major } : {}), ...(manifest ? { manifest } : {}) };
}
