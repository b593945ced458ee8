import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ActionError } from "../errors.js";
import type { Log } from "../types.js";
import { s3Problem } from "./errors.js";
import type { S3Config } from "./s3-config.js";

/** What the preflight learnt about the bucket, for the upload and the rotation. */
export interface BucketFacts {
  /** Versioning is Enabled or Suspended: a delete only adds a delete marker. */
  versioned: boolean;
}

/**
 * Before the firewall opens: the bucket exists and these credentials reach it (HeadBucket), they
 * may write to it (a multipart upload started and aborted at once: no object is ever created, so
 * nothing is left behind even under a default retention), and, with `s3-object-lock-days`, the
 * bucket has Object Lock. Wrong credentials, a missing bucket or a wrong endpoint fail here.
 */
export async function preflightS3(client: S3Client, s3: S3Config, probeKey: string, log: Log): Promise<BucketFacts> {
  const where = `s3://${s3.bucket}${s3.endpoint ? ` at ${s3.endpoint}` : ""}`;
  await client.send(new HeadBucketCommand({ Bucket: s3.bucket })).catch((error) => {
    throw new ActionError("s3", `S3 preflight: cannot reach ${where}: ${s3Problem(error, s3)}`);
  });
  if (s3.lock) await requireObjectLock(client, s3, where);
  const started = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: probeKey })).catch((error) => {
    throw new ActionError("s3", `S3 preflight: cannot write under ${where}/${s3.prefix}: ${s3Problem(error, s3)}`);
  });
  await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: probeKey, UploadId: started.UploadId })).catch((error) => {
    throw new ActionError("s3", `S3 preflight: could not abort the test upload of ${probeKey} (UploadId ${started.UploadId}): ${s3Problem(error, s3)}`);
  });
  const versioned = s3.keep ? await isVersioned(client, s3) : false;
  log.info(`S3: ${where} reachable and writable${s3.lock ? `, Object Lock on (${s3.lock.mode}, ${s3.lock.days} days)` : ""}.`);
  return { versioned };
}

async function requireObjectLock(client: S3Client, s3: S3Config, where: string): Promise<void> {
  const answer = await client.send(new GetObjectLockConfigurationCommand({ Bucket: s3.bucket })).catch((error) => {
    if ((error as { name?: string }).name === "ObjectLockConfigurationNotFoundError") return undefined;
    throw new ActionError("s3", `S3 preflight: cannot read the Object Lock configuration of ${where}: ${s3Problem(error, s3)}`);
  });
  if (answer?.ObjectLockConfiguration?.ObjectLockEnabled !== "Enabled")
    throw new ActionError(
      "inputs",
      `\`s3-object-lock-days\`: the bucket ${s3.bucket} has no Object Lock, so no retention can be set on the backups. Object Lock is chosen when a bucket is created (with versioning): create a bucket with it, or remove \`s3-object-lock-days\`.`,
    );
}

/** Rotation says what its deletes do: on a versioned bucket they only add delete markers. */
async function isVersioned(client: S3Client, s3: S3Config): Promise<boolean> {
  const answer = await client.send(new GetBucketVersioningCommand({ Bucket: s3.bucket })).catch(() => undefined);
  return answer?.Status === "Enabled" || answer?.Status === "Suspended";
}
