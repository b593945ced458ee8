import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Encrypter } from "age-encryption";

/**
 * Encrypts `source` to `target` for the age recipients, as a stream (age's STREAM construction
 * works chunk by chunk), so the dump is never held in memory. `target` must exist, empty: the
 * caller creates it exclusively (so it only ever removes what it created); this never creates or
 * replaces a file. The result decrypts with
 * `age --decrypt -i key.txt`.
 */
export async function encryptFile(source: string, target: string, recipients: string[]): Promise<void> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const plain = Readable.toWeb(createReadStream(source, { highWaterMark: 64 * 1024 })) as unknown as ReadableStream<Uint8Array>;
  const encrypted = await encrypter.encrypt(plain);
  await pipeline(Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>), createWriteStream(target, { flags: "r+" }));
}
