import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import { crc32 } from "node:zlib";
import { type CompleteMultipartUploadCommandInput, PutObjectCommand, type PutObjectCommandInput, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { LockMode } from "./s3-config.js";

const MiB = 1024 * 1024;
/** S3's limits: at most 10,000 parts, each at least 5 MiB (but the last). */
export const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * MiB;
/** Parts uploaded at once: lib-storage's default. Memory is QUEUE_SIZE parts. */
const QUEUE_SIZE = 4;
const READ_CHUNK = MiB;

/** The smallest whole-MiB part size (5 MiB at least) that fits `size` bytes in 10,000 parts. */
export function partSizeFor(size: number): number {
  return Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

export interface ObjectLock {
  mode: LockMode;
  until: Date;
}

export interface UploadedObject {
  versionId?: string;
  /** CRC-32 of the bytes sent, base64 (as S3 writes it), when the SDK sends checksums (the default). */
  crc32?: string;
}

/**
 * Streams `file` to `key` with lib-storage's multipart Upload (one PUT when it fits one part),
 * with a full-object CRC-32 the service checks: each part carries its own CRC-32 (the SDK's
 * default), and CompleteMultipartUpload carries the one this step computed over the whole stream,
 * so the service refuses an object whose assembled parts differ from what was read. A multipart
 * SHA-256 would be composite, never comparable with the file's: the sha256 goes in the manifest.
 * CRC-32 rather than CRC-64/NVME: Node computes it natively (zlib), CRC-64/NVME only in
 * JavaScript, twice (parts and stream), which cost 11% of the upload's time (docs/decisions.md).
 *
 * With AWS_REQUEST_CHECKSUM_CALCULATION=when_required (stores that reject the checksum headers)
 * no checksum is sent at all.
 */
export async function uploadFile(
  client: S3Client,
  o: { bucket: string; key: string; file: string; size: number; lock?: ObjectLock | undefined; signal?: AbortSignal | undefined },
): Promise<UploadedObject> {
  const checksums = (await client.config.requestChecksumCalculation()) !== "WHEN_REQUIRED";
  let crc = 0;
  // 1 MiB reads: lib-storage gathers 5 MiB or more per part anyway, and fewer, larger chunks
  // through the tap cost fewer turns of the event loop than fs's default 64 KiB.
  const tap = new Transform({
    highWaterMark: READ_CHUNK,
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  const source = createReadStream(o.file, { highWaterMark: READ_CHUNK });
  source.on("error", (error) => tap.destroy(error));
  const params: PutObjectCommandInput & Partial<CompleteMultipartUploadCommandInput> = {
    Bucket: o.bucket,
    Key: o.key,
    Body: checksums ? source.pipe(tap) : source,
    ContentLength: o.size,
    ContentType: "application/octet-stream",
    ...lockParams(o.lock),
    ...(checksums ? { ChecksumAlgorithm: "CRC32", ChecksumType: "FULL_OBJECT" } : {}),
  };
  // Read once every byte went through the tap, which is when lib-storage completes.
  const fullChecksum = () => {
    const digest = Buffer.alloc(4);
    digest.writeUInt32BE(crc >>> 0);
    return digest.toString("base64");
  };
  const upload = new Upload({ client, params, partSize: partSizeFor(o.size), queueSize: QUEUE_SIZE, leavePartsOnError: false });
  const stop = () => void upload.abort().catch(() => undefined);
  o.signal?.addEventListener("abort", stop, { once: true });
  const remove = checksums ? completeWithChecksum(client, o.key, fullChecksum) : () => undefined;
  try {
    const done = await upload.done();
    return { versionId: done.VersionId, ...(checksums ? { crc32: fullChecksum() } : {}) };
  } finally {
    remove();
    o.signal?.removeEventListener("abort", stop);
    source.destroy();
  }
}

/**
 * lib-storage passes the same parameters to every request it makes; the whole object's checksum
 * belongs only on CompleteMultipartUpload (a part carrying it would be refused), and is known only
 * once every byte was read, which is when lib-storage completes. A one-part upload is a PutObject
 * whose CRC-32 the SDK computes over the whole body itself.
 */
function completeWithChecksum(client: S3Client, key: string, fullChecksum: () => string): () => void {
  const name = `scalingo-pg-dump-full-checksum-${key}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Partial<CompleteMultipartUploadCommandInput>;
      if (context.commandName === "CompleteMultipartUploadCommand" && input.Key === key) input.ChecksumCRC32 = fullChecksum();
      return next(args);
    },
    { step: "initialize", name },
  );
  return () => client.middlewareStack.remove(name);
}

/** The manifest beside the dump: small, one PUT, locked like the dump. */
export async function putSidecar(
  client: S3Client,
  o: { bucket: string; key: string; body: string | Uint8Array; lock?: ObjectLock | undefined },
): Promise<string | undefined> {
  const answer = await client.send(
    new PutObjectCommand({
      Bucket: o.bucket,
      Key: o.key,
      Body: o.body,
      ContentType: "application/json",
      ...lockParams(o.lock),
    }),
  );
  return answer.VersionId;
}

function lockParams(lock: ObjectLock | undefined): Partial<PutObjectCommandInput> {
  return lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.until } : {};
}
