import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, open, rm } from "node:fs/promises";
import * as path from "node:path";

const HASH_CHUNK = 1 << 20;

/**
 * sha256 of a file through two reused 1 MiB buffers: constant memory, no garbage per chunk, and
 * the next chunk is read (in libuv's thread pool) while this one is hashed, so a large dump costs
 * the hash's time rather than the hash's plus the reads'.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  const buffers: Buffer[] = [Buffer.allocUnsafe(HASH_CHUNK), Buffer.allocUnsafe(HASH_CHUNK)];
  const handle = await open(file, "r");
  // At the file's position (not pread): one read at a time is in flight, so they stay in order, and a pipe reads too.
  let reading = handle.read(buffers[0], 0, HASH_CHUNK, null);
  try {
    for (let current = 0; ; current ^= 1) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      // Into the other buffer: this one is hashed meanwhile.
      reading = handle.read(buffers[current ^ 1] as Buffer, 0, HASH_CHUNK, null);
      hash.update((buffers[current] as Buffer).subarray(0, bytesRead));
    }
  } finally {
    await reading.catch(() => undefined);
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

/**
 * The dump's folder, private to the runner's user: a dump holds every row of production. Folders
 * this creates are set to 0700 explicitly (mkdir's mode goes through the umask); an existing
 * folder the user chose is left as it is: the files in it are private themselves.
 */
export async function prepareDumpDir(dumpPath: string): Promise<void> {
  const folder = path.dirname(dumpPath);
  const first = await mkdir(folder, { recursive: true, mode: 0o700 });
  if (!first) return;
  for (let dir = folder; ; dir = path.dirname(dir)) {
    await chmod(dir, 0o700);
    if (dir === first || dir === path.dirname(dir)) break;
  }
}

/**
 * Creates an empty file (0600) or folder (0700) that must not exist yet, for a program to write
 * into: it keeps the mode of an existing file (pg_dump, tar), whatever the umask.
 */
export async function createPrivate(target: string, kind: "file" | "dir"): Promise<void> {
  if (kind === "dir") {
    await mkdir(target, { mode: 0o700 });
    await chmod(target, 0o700);
    return;
  }
  const handle = await open(target, "wx", 0o600);
  try {
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
}

export async function removeQuietly(target: string | undefined): Promise<void> {
  if (target) await rm(target, { recursive: true, force: true }).catch(() => undefined);
}

/** lstat, not stat: a dangling symlink is something a write would follow, so it "exists". */
export async function exists(target: string): Promise<boolean> {
  return lstat(target).then(
    () => true,
    () => false,
  );
}
