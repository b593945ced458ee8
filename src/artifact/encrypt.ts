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

/** The library and version that encrypts (package.json pins it): named when it refuses a recipient type. */
export const AGE_LIBRARY = "age-encryption 0.3.1";

/**
 * Why a line of `encryption-recipients` cannot be used, or undefined. A private key is named as
 * such without echoing any of it: it was just written where public values go, and must be rotated.
 * SSH keys are accepted as soon as the library accepts them; today it does not, and says nothing
 * a user could act on, so the message does.
 */
export function recipientProblem(line: string, position: number): string | undefined {
  if (/^AGE-(SECRET-KEY|PLUGIN)-/i.test(line)) {
    return `recipient ${position} is a private key: put the public recipient (age1…) here, and rotate that key (it was written in the workflow or a secret meant for recipients).`;
  }
  try {
    new Encrypter().addRecipient(line);
    return undefined;
  } catch {
    const ssh = /^(ssh-ed25519|ssh-rsa)\s/.exec(line);
    if (ssh) {
      return `recipient ${position} is an SSH public key (${ssh[1]}): the age library this action uses (${AGE_LIBRARY}) cannot encrypt to SSH keys; generate an age key pair with \`age-keygen\` and put its public recipient (age1…) here.`;
    }
    return `"${line.slice(0, 24)}..." is not an age recipient (a public key starting with age1, one per line).`;
  }
}
