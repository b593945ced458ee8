import { DeleteObjectCommand, HeadObjectCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import type { Log } from "../types.js";
import { s3Problem } from "./errors.js";
import { chooseKept, type KeepPolicy } from "./keep.js";
import { ownBackups, type StoredBackup } from "./keys.js";
import type { S3Config } from "./s3-config.js";

export interface Rotation {
  /** Keys removed (dump and manifest together). */
  deleted: string[];
  /** Keys rotation would have removed but that are under a retention or legal hold: kept, reported. */
  locked: string[];
  /** On a versioned bucket a delete only adds a delete marker: the data stays until a lifecycle rule expires it. */
  deleteMarkers: boolean;
}

/** Deletes at once, at most: a first rotation over a long history stays polite to the service. */
const PARALLEL_DELETES = 8;

/**
 * Applies `s3-keep` after a successful upload (the caller never calls it otherwise): only this
 * database's own names under the prefix, a dump and its manifest together, never the backup just
 * written, objects under a lock skipped.
 */
export async function rotate(
  client: S3Client,
  s3: Pick<S3Config, "bucket" | "prefix" | "endpoint" | "region">,
  o: { database: string; keep: KeepPolicy; written: readonly string[]; versioned: boolean; now: Date; log: Log },
): Promise<Rotation> {
  const keys = await listKeys(client, s3.bucket, `${s3.prefix}${o.database}-`);
  const backups = ownBackups(keys, s3.prefix, o.database);
  const kept = chooseKept(
    backups.map((b) => b.at),
    o.keep,
  );
  const doomed = backups.filter((b) => !kept.has(b.at.getTime()) && !b.keys.some((k) => o.written.includes(k)));
  const result: Rotation = { deleted: [], locked: [], deleteMarkers: o.versioned };
  const queue = [...doomed];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) await removeBackup(client, s3, b, result, o);
  };
  await Promise.all(Array.from({ length: PARALLEL_DELETES }, worker));
  result.deleted.sort();
  result.locked.sort();
  o.log.info(
    `Rotation (${describeKeep(o.keep)}): ${backups.length} backup(s) of ${o.database} under s3://${s3.bucket}/${s3.prefix}, ${kept.size} kept, ${result.deleted.length} object(s) deleted${result.locked.length ? `, ${result.locked.length} locked object(s) left in place` : ""}.`,
  );
  if (result.deleted.length && o.versioned)
    o.log.info("The bucket is versioned: each delete only added a delete marker; the data stays until a lifecycle rule expires noncurrent versions.");
  return result;
}

async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
  }
  return keys;
}

/**
 * Object Lock needs versioning, and on a versioned bucket a plain delete always "succeeds" by
 * adding a delete marker, hiding a locked backup without freeing anything. So there, each object's
 * retention is read first, and a locked backup is left whole (dump and manifest alike).
 */
async function removeBackup(
  client: S3Client,
  s3: Pick<S3Config, "bucket" | "endpoint" | "region">,
  backup: StoredBackup,
  result: Rotation,
  o: { versioned: boolean; now: Date; log: Log },
) {
  if (o.versioned) {
    const locks = await Promise.all(backup.keys.map((key) => isLocked(client, s3.bucket, key, o.now)));
    if (locks.some(Boolean)) {
      result.locked.push(...backup.keys);
      return;
    }
  }
  for (const key of backup.keys) {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
      result.deleted.push(key);
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "AccessDenied") result.locked.push(key);
      else o.log.warning(`Rotation could not delete s3://${s3.bucket}/${key}: ${s3Problem(error, s3)}`);
    }
  }
}

async function isLocked(client: S3Client, bucket: string, key: string, now: Date): Promise<boolean> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const until = head.ObjectLockRetainUntilDate;
  return head.ObjectLockLegalHoldStatus === "ON" || (until !== undefined && new Date(until).getTime() > now.getTime());
}

export function describeKeep(keep: KeepPolicy): string {
  return Object.entries(keep)
    .map(([unit, n]) => `${unit}=${n}`)
    .join(" ");
}
