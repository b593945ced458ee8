import { open, readFile } from "node:fs/promises";
import { Decrypter, Encrypter } from "age-encryption";
import type { DumpFormat } from "../naming.js";

// The manifest: what a backup was, written beside the dump (a file, an artifact, an S3 object) so
// that a restore can check the bytes it got (sha256), pick the right pg_restore (versions, format)
// and prove it restored every row (row counts). Table names and counts are data too: with
// recipients it is encrypted to them, like the dump.

export const MANIFEST_VERSION = 1;

/** The first bytes of every age file (binary or armored): how an encrypted manifest is told apart. */
const AGE_HEADER = "age-encryption.org/v1\n";
const AGE_ARMOR = "-----BEGIN AGE ENCRYPTED FILE-----";

export interface ManifestTable {
  schema: string;
  name: string;
  rows: number;
}

export interface Manifest {
  manifestVersion: typeof MANIFEST_VERSION;
  generator: "scalingo-pg-dump";
  /** ISO 8601, when the manifest was written (the end of the backup). */
  createdAt: string;
  database: string;
  region: string;
  dump: {
    /** The dump's file (or artifact, or object) name, extension included. */
    name: string;
    size: number;
    /** sha256 (hex) of the bytes as stored: the encrypted file when encrypted. */
    sha256: string;
    /** pg_dump's format; `directory` is stored as one tar of the folder. */
    format: DumpFormat;
    /** `compress` as given to pg_dump, when given. */
    compress?: string;
    encryption: "age" | "none";
  };
  /** The production server's version, as Scalingo reported it. */
  serverVersion: string;
  /** The major of the pg_dump that wrote the dump: a restore uses the pg_restore of this major. */
  pgDumpVersion: string;
  /** true: restored into a throwaway server by the backup (verify: restore); null: not checked. */
  restoreVerified: boolean | null;
  /** Every restored table with its exact row count (verify: restore), else null (not counted). */
  tables: ManifestTable[] | null;
  rows: number | null;
}

/** What a backup knows when it writes the manifest (the backup's report has these fields). */
export interface ManifestSource {
  database: string;
  region: string;
  format: string;
  encrypted: boolean;
  serverVersion?: string;
  pgDumpVersion?: string;
  dumpSize?: number;
  sha256?: string;
  restoreVerified?: boolean;
  restore?: { tables: ManifestTable[]; rows: number };
}

export function manifestFrom(source: ManifestSource, o: { name: string; compress?: string | undefined; now: Date }): Manifest {
  const tables = source.restore ? source.restore.tables.map(({ schema, name, rows }) => ({ schema, name, rows })) : null;
  return {
    manifestVersion: MANIFEST_VERSION,
    generator: "scalingo-pg-dump",
    createdAt: o.now.toISOString(),
    database: source.database,
    region: source.region,
    dump: {
      name: o.name,
      size: source.dumpSize ?? 0,
      sha256: source.sha256 ?? "",
      format: source.format as DumpFormat,
      ...(o.compress ? { compress: o.compress } : {}),
      encryption: source.encrypted ? "age" : "none",
    },
    serverVersion: source.serverVersion ?? "",
    pgDumpVersion: source.pgDumpVersion ?? "",
    restoreVerified: source.restoreVerified ?? null,
    tables,
    rows: source.restore ? source.restore.rows : null,
  };
}

/** `<dump name>.manifest.json`, `.age` added when encrypted: the sidecar's name, found from the dump's. */
export function manifestName(dumpName: string, encrypted: boolean): string {
  return `${dumpName}.manifest.json${encrypted ? ".age" : ""}`;
}

/**
 * Every name the manifest of `dumpName` may be stored under, newest naming first: the upload's one
 * retry after a failed attempt adds `-retry` to its base name (src/artifact/artifact.ts).
 */
export function manifestNames(dumpName: string): string[] {
  return [true, false].flatMap((encrypted) => {
    const name = manifestName(dumpName, encrypted);
    return [name, name.replace(/\.manifest\.json/, ".manifest-retry.json")];
  });
}

/** Whether a stored name is a manifest's (of any dump), retried or not. */
export const isManifestName = (name: string): boolean => /\.manifest(-retry)?\.json(\.age)?$/.test(name);

/** The manifest's bytes as stored: JSON, encrypted to `recipients` when there are any. */
export async function sealManifest(manifest: Manifest, recipients: readonly string[]): Promise<Uint8Array> {
  const json = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  if (!recipients.length) return json;
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter.encrypt(json);
}

export function isAgeEncrypted(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64));
  return head.startsWith(AGE_HEADER) || head.startsWith(AGE_ARMOR);
}

/** Reads stored bytes back: decrypted with `identity` when encrypted, then checked field by field. */
export async function openManifest(bytes: Uint8Array, identity?: string): Promise<Manifest> {
  if (!isAgeEncrypted(bytes)) return parseManifest(new TextDecoder().decode(bytes));
  if (!identity) throw new ManifestError("the manifest is encrypted (age): set `decryption-identity` to the age identity of one of the backup's recipients.");
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  let text: string;
  try {
    text = await decrypter.decrypt(bytes, "text");
  } catch {
    // age's own message says which stanza failed; the identity is never part of it, but it is not needed either.
    throw new ManifestError("the manifest does not decrypt with `decryption-identity`: it is not the identity of any of the backup's recipients.");
  }
  return parseManifest(text);
}

export class ManifestError extends Error {}

/** Parses and checks a manifest's JSON: a restore relies on every field it reads. */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ManifestError("the manifest is not JSON.");
  }
  const m = value as Manifest;
  const problems: string[] = [];
  if (!m || typeof m !== "object") throw new ManifestError("the manifest is not a JSON object.");
  if (m.manifestVersion !== MANIFEST_VERSION) problems.push(`manifestVersion ${String(m.manifestVersion)} (this action reads ${MANIFEST_VERSION})`);
  if (!m.dump || typeof m.dump !== "object") problems.push("no dump");
  else {
    if (!/^[0-9a-f]{64}$/.test(String(m.dump.sha256))) problems.push("dump.sha256 is not a sha256");
    if (!["custom", "directory", "tar", "plain"].includes(m.dump.format)) problems.push(`dump.format ${String(m.dump.format)}`);
    if (!["age", "none"].includes(m.dump.encryption)) problems.push(`dump.encryption ${String(m.dump.encryption)}`);
  }
  if (typeof m.pgDumpVersion !== "string") problems.push("no pgDumpVersion");
  if (m.tables !== null && !validTables(m.tables)) problems.push("tables is not a list of {schema, name, rows}");
  if (problems.length) throw new ManifestError(`the manifest is not one this action wrote: ${problems.join("; ")}.`);
  return m;
}

function validTables(tables: unknown): tables is ManifestTable[] {
  return (
    Array.isArray(tables) && tables.every((t) => t && typeof t.schema === "string" && typeof t.name === "string" && Number.isSafeInteger(t.rows) && t.rows >= 0)
  );
}

/** Writes the sealed manifest to a file that must not exist yet, private (0600). */
export async function writeManifestFile(file: string, manifest: Manifest, recipients: readonly string[]): Promise<void> {
  const bytes = await sealManifest(manifest, recipients);
  const handle = await open(file, "wx", 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(bytes);
  } finally {
    await handle.close();
  }
}

export async function readManifestFile(file: string, identity?: string): Promise<Manifest> {
  return openManifest(await readFile(file), identity);
}

/** The major of the pg_dump that wrote the dump ("15", "15.4" and "15.4 (Debian ...)" give 15). */
export function dumpMajor(manifest: Manifest): number | undefined {
  const major = Number(/^(\d+)/.exec(manifest.pgDumpVersion)?.[1]);
  return Number.isInteger(major) && major > 0 ? major : undefined;
}
