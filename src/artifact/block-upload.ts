import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";

/** Same block size as @actions/artifact: 50,000 blocks (Azure's limit per blob) make 390 GiB. */
export const BLOCK_SIZE = 8 * 1024 * 1024;
const MAX_BLOCKS = 50_000;

/** The blob store's two block calls (Azure's Put Block and Put Block List). */
export interface BlockStore {
  stage(id: string, body: Buffer): Promise<void>;
  commit(ids: string[]): Promise<void>;
}

export interface BlockUploadOptions {
  blockSize: number;
  /** Blocks in flight at once; each holds one buffer of `blockSize`, allocated once. */
  concurrency: number;
  /** How often follow() looks at the file's size. */
  pollMs: number;
}

export interface BlocksDone {
  size: number;
  /** sha256 of the file, which is also the committed blob: every committed block was checked against it. */
  sha256: string;
  blocks: number;
  /** Blocks staged by finish(): not staged while following, or changed since. */
  stagedAtFinish: number;
}

/** Block ids must all have the same length within a blob; base64 of a zero-padded index. */
export function blockId(index: number): string {
  return Buffer.from(`block-${String(index).padStart(8, "0")}`).toString("base64");
}

/**
 * Uploads one file as the blocks of a blob, in constant memory, possibly while another process
 * is still writing it.
 *
 * follow() stages each full block as soon as it is on disk, so most of a dump is uploaded while
 * pg_dump still runs. finish(), once the writer has exited, reads the file once from the start:
 * it computes the sha256 of the whole file, and stages again every block that was not staged yet
 * or whose bytes changed since (pg_dump's custom format rewrites its table of contents at the
 * start of the file when it ends). So the committed blob equals the final file whatever the
 * writer did, without knowing anything about the dump format.
 */
export class BlockUpload {
  /** For each block staged so far: length and sha1 of the bytes staged (sha1 only spots changes). */
  private readonly staged: string[] = [];
  private readonly free: Buffer[];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private following: Promise<void> = Promise.resolve();
  private readonly o: BlockUploadOptions;

  constructor(
    private readonly file: string,
    private readonly store: BlockStore,
    options: Partial<BlockUploadOptions> = {},
  ) {
    this.o = { blockSize: BLOCK_SIZE, concurrency: 2, pollMs: 250, ...options };
    this.free = Array.from({ length: this.o.concurrency }, () => Buffer.allocUnsafe(this.o.blockSize));
  }

  /** Starts staging full blocks as the file grows, until `writerDone` settles. A failure waits for finish(). */
  follow(writerDone: Promise<unknown>): void {
    this.following = this.runFollow(writerDone).catch((error) => {
      this.failure ??= { error };
    });
  }

  private async runFollow(writerDone: Promise<unknown>): Promise<void> {
    let done = false;
    const ended = writerDone.then(
      () => (done = true),
      () => (done = true),
    );
    let handle: FileHandle | undefined;
    try {
      for (let next = 0; !done && !this.failure; ) {
        // The writer creates the file: until it does, there is nothing to read.
        handle ??= await open(this.file, "r").catch(() => undefined);
        const size = handle ? (await handle.stat()).size : 0;
        for (; handle && !this.failure && (next + 1) * this.o.blockSize <= size; next++) {
          await this.stageFrom(handle, next, this.o.blockSize, false);
        }
        await Promise.race([ended, new Promise((r) => setTimeout(r, this.o.pollMs))]);
      }
      await this.settle();
    } finally {
      await handle?.close();
    }
  }

  /** Hashes the final file, stages what is missing or changed, commits. Call once the writer has exited. */
  async finish(): Promise<BlocksDone> {
    await this.following;
    await this.settle();
    this.throwIfFailed();
    const handle = await open(this.file, "r");
    const whole = createHash("sha256");
    let stagedAtFinish = 0;
    let count: number;
    let size: number;
    try {
      size = (await handle.stat()).size;
      count = Math.ceil(size / this.o.blockSize);
      if (count > MAX_BLOCKS) throw new Error(`the file is ${size} bytes, more than ${MAX_BLOCKS} blocks of ${this.o.blockSize} bytes`);
      for (let k = 0; k < count && !this.failure; k++) {
        const length = Math.min(this.o.blockSize, size - k * this.o.blockSize);
        if (await this.stageFrom(handle, k, length, true, (bytes) => whole.update(bytes))) stagedAtFinish++;
      }
      await this.settle();
    } finally {
      await handle.close();
    }
    this.throwIfFailed();
    await this.store.commit(Array.from({ length: count }, (_, k) => blockId(k)));
    return { size, sha256: whole.digest("hex"), blocks: count, stagedAtFinish };
  }

  /**
   * Reads block k into a free buffer and, unless `onlyIfChanged` finds it staged already with
   * these bytes, stages it without waiting for the answer. Answers whether it staged.
   */
  private async stageFrom(handle: FileHandle, k: number, length: number, onlyIfChanged: boolean, see?: (bytes: Buffer) => void): Promise<boolean> {
    const buffer = await this.takeBuffer();
    const bytes = buffer.subarray(0, length);
    try {
      await readExactly(handle, bytes, k * this.o.blockSize);
    } catch (error) {
      this.free.push(buffer);
      throw error;
    }
    see?.(bytes);
    const previous = this.staged[k];
    // A block never staged needs no digest at finish: it is staged either way.
    const digest = onlyIfChanged && previous === undefined ? undefined : `${length}:${createHash("sha1").update(bytes).digest("base64")}`;
    if (onlyIfChanged && previous !== undefined && previous === digest) {
      this.free.push(buffer);
      return false;
    }
    const task = this.store.stage(blockId(k), bytes).then(
      () => {
        if (digest) this.staged[k] = digest;
      },
      (error) => {
        this.failure ??= { error };
      },
    );
    const tracked = task.finally(() => {
      this.inFlight.delete(tracked);
      this.free.push(buffer);
    });
    this.inFlight.add(tracked);
    return true;
  }

  private async takeBuffer(): Promise<Buffer> {
    while (this.free.length === 0) await Promise.race(this.inFlight);
    return this.free.pop() as Buffer;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

async function readExactly(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file ended at ${position + done} bytes while reading a block`);
    done += bytesRead;
  }
}
