import { createHash } from "node:crypto";
import { mkdir, open, rm, stat } from "node:fs/promises";
import * as path from "node:path";

/** sha256 of a file through one reused 1 MiB buffer: constant memory, no garbage per chunk. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const handle = await open(file, "r");
  try {
    for (let read = 1; read > 0; ) {
      ({ bytesRead: read } = await handle.read(buffer, 0, buffer.length, null));
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

export async function readTail(file: string, bytes: number): Promise<string> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}

/** The dump's folder, private to the runner's user: a dump holds every row of production. */
export async function prepareDumpDir(dumpPath: string): Promise<void> {
  await mkdir(path.dirname(dumpPath), { recursive: true, mode: 0o700 });
}

export async function removeQuietly(target: string | undefined): Promise<void> {
  if (target) await rm(target, { recursive: true, force: true }).catch(() => undefined);
}

export async function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  );
}
