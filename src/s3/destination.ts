import { readFile } from "node:fs/promises";
import * as path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { ActionError } from "../errors.js";
import type { Log } from "../types.js";
import { createS3Client } from "./client.js";
import { s3Problem } from "./errors.js";
import { dumpKey } from "./keys.js";
import { type BucketFacts, preflightS3 } from "./preflight.js";
import { type Rotation, rotate } from "./rotate.js";
import type { S3Config } from "./s3-config.js";
import { type ObjectLock, putSidecar, uploadFile } from "./upload.js";

/** The destination once the preflight passed: the backup's S3 step uses this client. */
export interface S3Plan {
  s3: S3Config;
  client: S3Client;
  facts: BucketFacts;
}

/** What the S3 step stored: the outputs s3-uri, s3-version-id, s3-deleted. */
export interface S3Stored {
  uri: string;
  versionId?: string;
  manifestUri?: string;
  rotation?: Rotation;
}

/** Before the firewall opens (docs/design.md): a destination that cannot be written fails the run here. */
export async function planS3(s3: S3Config, log: Log): Promise<S3Plan> {
  const client = createS3Client(s3);
  const facts = await preflightS3(client, s3, `${s3.prefix}${s3.baseName}.preflight`, log);
  return { s3, client, facts };
}

/**
 * The S3 step, after verification, encryption, the rule's removal and the artifact: the dump,
 * then its manifest beside it, then rotation (only once both are stored). `extension` is what
 * the file's name adds to the base name (.dump, .tar.age ...), so the object name always carries
 * the backup's UTC time whatever `path` said.
 */
export async function storeInS3(
  plan: S3Plan,
  o: {
    file: string;
    size: number;
    extension: string;
    manifestFile?: string;
    database: string;
    rotate?: boolean;
    now: () => Date;
    log: Log;
    signal?: AbortSignal;
  },
): Promise<S3Stored> {
  const { s3, client } = plan;
  const key = dumpKey(s3.prefix, s3.baseName, o.extension);
  const lock = s3.lock ? { mode: s3.lock.mode, until: new Date(o.now().getTime() + s3.lock.days * 86_400_000) } : undefined;
  const uri = `s3://${s3.bucket}/${key}`;
  o.log.info(`Uploading ${o.size} bytes to ${uri}${lock ? ` (locked ${lock.mode} until ${lock.until.toISOString()})` : ""}...`);
  const stored = await uploadFile(client, { bucket: s3.bucket, key, file: o.file, size: o.size, lock, signal: o.signal }).catch((error) => {
    throw new ActionError("s3", `S3 upload of ${uri} failed: ${s3Problem(error, s3)}`);
  });
  o.log.info(
    `Stored ${uri}${stored.versionId ? ` (version ${stored.versionId})` : ""}${stored.crc32 ? `, full-object CRC-32 ${stored.crc32} checked by the service` : ""}.`,
  );
  const result: S3Stored = { uri, versionId: stored.versionId };
  const written = [key];
  if (o.manifestFile) {
    const manifestKey = `${key}${path.basename(o.manifestFile).slice(path.basename(o.file).length)}`;
    await putManifest(client, s3, manifestKey, o.manifestFile, lock);
    result.manifestUri = `s3://${s3.bucket}/${manifestKey}`;
    written.push(manifestKey);
  }
  if (s3.keep && o.rotate === false) o.log.info("Rotation skipped: this dump failed its restore check, so no older backup is deleted in its favour.");
  else if (s3.keep)
    result.rotation = await rotate(client, s3, {
      database: o.database,
      keep: s3.keep,
      written,
      versioned: plan.facts.versioned,
      now: o.now(),
      log: o.log,
    }).catch((error) => {
      throw new ActionError("s3", `S3 rotation failed (the new backup is stored at ${uri}): ${s3Problem(error, s3)}`);
    });
  return result;
}

/** The manifest is a sidecar object, not metadata (capped at 2 KB): rotated and locked with the dump. */
async function putManifest(client: S3Client, s3: S3Config, key: string, file: string, lock: ObjectLock | undefined): Promise<void> {
  await putSidecar(client, { bucket: s3.bucket, key, body: await readFile(file), lock }).catch((error) => {
    throw new ActionError("s3", `S3 upload of the manifest s3://${s3.bucket}/${key} failed (the dump is stored): ${s3Problem(error, s3)}`);
  });
}
