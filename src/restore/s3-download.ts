import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ActionError } from "../errors.js";
import { manifestName } from "../manifest/manifest.js";
import { createS3Client } from "../s3/client.js";
import { s3Problem } from "../s3/errors.js";
import type { S3Object } from "../s3/s3-source.js";
import type { Log } from "../types.js";
import { type ObtainedDump, openManifestFile } from "./prepare.js";

// A backup the backup action stored in S3 (`s3-uri`): its manifest sidecar first (small), then
// the dump, hashed as it streams to the private folder and compared with the manifest's sha256,
// all before the firewall opens, as for an artifact. The client has the credentials of the AWS_*
// variables and nothing else; no child process ever sees them.

export async function obtainFromS3(
  source: S3Object,
  o: { folder: string; identity?: string | undefined; signal?: AbortSignal },
  log: Log,
): Promise<ObtainedDump & { description: string }> {
  const uri = `s3://${source.bucket}/${source.key}`;
  const name = path.basename(source.key);
  const client = createS3Client(source);
  try {
    const manifestFile = await sidecar(client, source, path.join(o.folder, "manifest"), o.signal);
    const manifest = manifestFile ? await openManifestFile(manifestFile, o.identity) : undefined;
    if (!manifest) log.warning(`No manifest beside ${uri}: its sha256 and row counts cannot be checked.`);
    const dir = path.join(o.folder, "dump");
    await mkdir(dir, { mode: 0o700 });
    const file = path.join(dir, name);
    const { sha256, bytes } = await download(client, source, file, o.signal).catch((error) => {
      throw new ActionError("download", `Could not download ${uri}: ${s3Problem(error, source, "restore")}`);
    });
    log.info(`Downloaded ${uri} (${bytes} bytes).`);
    if (manifest && sha256 !== manifest.dump.sha256)
      throw new ActionError(
        "inputs",
        `${uri}: the downloaded bytes' sha256 (${sha256}) is not the manifest's (${manifest.dump.sha256}): it is not the file the backup wrote (corrupted or replaced). Nothing was opened.`,
      );
    return { file, name, ...(manifest ? { manifest } : {}), sha256Checked: Boolean(manifest), description: `\`${uri}\`` };
  } finally {
    client.destroy();
  }
}

/** The manifest the backup stored beside the dump (encrypted when the dump is), or none. */
async function sidecar(client: S3Client, source: S3Object, dir: string, signal?: AbortSignal): Promise<string | undefined> {
  await mkdir(dir, { mode: 0o700 });
  const key = manifestName(source.key, source.key.endsWith(".age"));
  const file = path.join(dir, path.basename(key));
  try {
    await download(client, { ...source, key }, file, signal);
    return file;
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw new ActionError("download", `Could not download the manifest s3://${source.bucket}/${key}: ${s3Problem(error, source, "restore")}`);
  }
}

/** GetObject streamed to a new private file (0600), its sha256 computed on the way. */
async function download(client: S3Client, source: S3Object, file: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const object = await client.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }), signal ? { abortSignal: signal } : {});
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(object.Body as Readable, hashing, createWriteStream(file, { flags: "wx", mode: 0o600 }), signal ? { signal } : {});
  return { sha256: hash.digest("hex"), bytes };
}
